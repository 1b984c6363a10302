package app

import (
	"github.com/redis/go-redis/v9"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
	"github.com/rampart-auth/rampart/jwtauth"
)

// newAdminService wires the administrative use cases to the store, the
// revoker and (when given) the audit log and the key manager: the CLI and
// the admin API get the same Service from here. al and km may be nil for
// commands that need neither (their use cases then fail with
// admin.ErrUnavailable); rdb nil means no shared deny list.
func newAdminService(db *sqlstore.DB, parts *AuthParts, rdb redis.UniversalClient, al admin.Auditor, km admin.KeyRing) *admin.Service {
	var shared oauth.DenyPublisher
	if rdb != nil {
		shared = jwtauth.NewRedisDenyList(rdb, oauth.DenyListPrefix)
	}
	revoker := oauth.Revoker{Store: db.OAuth(), Shared: shared}
	opts := admin.Options{Clients: db.OAuth(), Configured: parts.Clients, SecretKey: parts.SecretKey,
		Revoker: revoker, Users: parts.Users,
		Directory: db.Identity(), Sessions: db.Identity(), AuditLog: db.Audit(),
		SigningAlgorithm: parts.SigningAlgorithm}
	if al != nil {
		opts.Audit = al
		opts.Ender = oauth.AccessEnder{Sessions: db.Identity(), Tokens: db.OAuth(), Revoker: revoker, Audit: al}
	}
	if km != nil {
		opts.Keys = km
	}
	return admin.New(opts)
}
