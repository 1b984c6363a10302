package sqlstore

import (
	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/oauth"
)

// The domain stores: one type per domain over the shared DB, each holding
// only its own domain's queries (WTF Dial's service split). A consumer is
// handed the one it needs (and, through its own small interfaces, only the
// methods it calls); none of them can reach another domain's tables.
type (
	// OAuthStore holds clients, codes, token families, refresh tokens,
	// the access-token deny list and consents.
	OAuthStore struct{ d *DB }
	// IdentityStore holds users and sign-in sessions.
	IdentityStore struct{ d *DB }
	// KeyStore holds the signing key ring.
	KeyStore struct{ d *DB }
	// AuditStore holds the hash-chained audit log.
	AuditStore struct{ d *DB }
)

var (
	_ oauth.Store    = (*OAuthStore)(nil)
	_ identity.Store = (*IdentityStore)(nil)
	_ keys.Store     = (*KeyStore)(nil)
	_ audit.Store    = (*AuditStore)(nil)
)

// OAuth returns the OAuth domain store on d.
func (d *DB) OAuth() *OAuthStore { return &OAuthStore{d: d} }

// Identity returns the identity domain store on d.
func (d *DB) Identity() *IdentityStore { return &IdentityStore{d: d} }

// Keys returns the signing-key domain store on d.
func (d *DB) Keys() *KeyStore { return &KeyStore{d: d} }

// Audit returns the audit domain store on d.
func (d *DB) Audit() *AuditStore { return &AuditStore{d: d} }
