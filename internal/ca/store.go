package ca

import (
	"context"
	"errors"
	"time"
)

// Storage contracts of the CA, implemented by internal/store/sqlstore
// (CAStore). Small interfaces, composed into Store.

// Authority kinds.
const (
	KindRoot         = "root"
	KindIntermediate = "intermediate"
)

// AuthorityRecord is one CA certificate of the hierarchy with its sealed
// private key (sealed with the AD kms.CAKeyAD(ID)).
type AuthorityRecord struct {
	ID         string // lowercase hex SHA-256 of CertDER (first 16 bytes)
	Kind       string // KindRoot or KindIntermediate
	CertDER    []byte
	KeySealed  []byte
	CreatedAt  time.Time // published (in the bundle) from here
	ActivateAt time.Time // signs from here (intermediates)
	NotAfter   time.Time
	// LastIssued is the latest NotAfter of a recorded certificate it
	// signed (zero: none); read only.
	LastIssued time.Time
}

// Hierarchy is the CA state in the store: the trust domain, a generation
// that every rotation bumps, and every authority, oldest first.
type Hierarchy struct {
	TrustDomain string // "" when the CA is not initialised
	Generation  int64
	Authorities []AuthorityRecord
}

// HierarchyStore holds the CA certificates and keys.
type HierarchyStore interface {
	// LoadHierarchy returns the hierarchy; TrustDomain "" when none.
	LoadHierarchy(ctx context.Context) (Hierarchy, error)
	// InitHierarchy records the trust domain, the root and the first
	// intermediate in one transaction; ErrExists when a CA is recorded.
	InitHierarchy(ctx context.Context, td string, root, intermediate AuthorityRecord) error
	// AddIntermediate records r when the generation is still expect
	// (bumping it), else ErrConflict: of two nodes rotating at once, one
	// wins.
	AddIntermediate(ctx context.Context, expect int64, r AuthorityRecord) error
}

// RegistrationStore holds the registrations and the revoked IDs.
type RegistrationStore interface {
	// PutRegistration inserts or replaces the registration of r.ID and
	// clears a revocation of that ID; ErrClientIDTaken when another ID
	// holds r.ClientID.
	PutRegistration(ctx context.Context, r RegistrationRecord) error
	// DeleteRegistration deletes it and, in the same transaction, blocks
	// id from issuance and renewal (IDRevoked, reason "unregistered")
	// until it is registered again; its certificates are not revoked.
	// ErrNotFound when there is none.
	DeleteRegistration(ctx context.Context, id string, now time.Time) error
	// Registration returns the registration of id; ErrNotFound.
	Registration(ctx context.Context, id string) (RegistrationRecord, error)
	// RegistrationByClient returns the registration mapped to clientID; ErrNotFound.
	RegistrationByClient(ctx context.Context, clientID string) (RegistrationRecord, error)
	// Registrations returns every registration by ID.
	Registrations(ctx context.Context) ([]RegistrationRecord, error)
	// IDRevoked reports whether id is revoked (blocked until re-registered).
	IDRevoked(ctx context.Context, id string) (bool, error)
}

// RegistrationRecord is a stored registration.
type RegistrationRecord struct {
	ID        string
	DNSNames  []string
	TTL       time.Duration
	ClientID  string
	CreatedAt time.Time
}

// JoinTokenStore holds join tokens by the SHA-256 of the token string.
type JoinTokenStore interface {
	// InsertJoinToken stores t.
	InsertJoinToken(ctx context.Context, t JoinTokenRecord) error
	// JoinToken returns the token of hash; ErrNotFound.
	JoinToken(ctx context.Context, hash []byte) (JoinTokenRecord, error)
	// ConsumeJoinToken marks it used at now when it is unused and
	// unexpired (one conditional update: of two concurrent uses one
	// wins); ErrNotFound otherwise.
	ConsumeJoinToken(ctx context.Context, hash []byte, now time.Time) error
}

// JoinTokenRecord is a stored join token.
type JoinTokenRecord struct {
	Hash      []byte
	ID        string // bound SPIFFE ID, or ""
	Pattern   string // bound pattern spiffe://td/prefix/*, or ""
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero: unused
}

// CertStore records issued certificates and revocations.
type CertStore interface {
	// InsertCert records an issued certificate.
	InsertCert(ctx context.Context, c CertRecord) error
	// Cert returns the record of serial; ErrNotFound.
	Cert(ctx context.Context, serial string) (CertRecord, error)
	// Certs returns the records, unexpired at now unless all.
	Certs(ctx context.Context, now time.Time, all bool) ([]CertRecord, error)
	// RevokeSerial revokes an unexpired, unrevoked certificate; it
	// returns how many (0 or 1).
	RevokeSerial(ctx context.Context, serial, reason string, now time.Time) (int, error)
	// RevokeID records id as revoked and revokes its unexpired
	// certificates, in one transaction; it returns how many.
	RevokeID(ctx context.Context, id, reason string, now time.Time) (int, error)
	// RevokedUnexpired returns the revoked certificates not expired at now.
	RevokedUnexpired(ctx context.Context, now time.Time) ([]CertRecord, error)
	// Cleanup deletes certificate records expired before certsBefore and
	// join tokens used or expired before tokensBefore.
	Cleanup(ctx context.Context, certsBefore, tokensBefore time.Time) error
}

// CertRecord is an issued certificate.
type CertRecord struct {
	Serial    string // lowercase hex
	ID        string
	IssuerID  string
	NotBefore time.Time
	NotAfter  time.Time
	RevokedAt time.Time // zero: not revoked
	Reason    string
}

// CRLStore holds the current CRL, shared by the fleet.
type CRLStore interface {
	// LatestCRL returns the CRL with the highest number; ErrNotFound.
	LatestCRL(ctx context.Context) (CRLRecord, error)
	// InsertCRL stores c unless c.Number exists (ErrConflict).
	InsertCRL(ctx context.Context, c CRLRecord) error
}

// CRLRecord is a signed CRL.
type CRLRecord struct {
	Number     int64
	DER        []byte
	ThisUpdate time.Time
	NextUpdate time.Time
}

// Store is everything the CA needs from the store.
type Store interface {
	HierarchyStore
	RegistrationStore
	JoinTokenStore
	CertStore
	CRLStore
}

// Store errors.
var (
	// ErrNotFound: no such row.
	ErrNotFound = errors.New("ca: not found")
	// ErrConflict: the store moved (another node rotated, or made the CRL).
	ErrConflict = errors.New("ca: the CA changed concurrently")
	// ErrClientIDTaken: the client id is mapped to another SPIFFE ID.
	ErrClientIDTaken = errors.New("ca: the client id is registered to another SPIFFE ID")
)
