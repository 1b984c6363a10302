package pgdyn

import (
	"time"

	"github.com/rampart-auth/rampart/internal/secrets"
)

// Role is a dynamic credential role (config secrets.dynamic[]): each
// lease runs Creation with generated {{name}}, {{password}} and
// {{expiration}}; at expiry or revocation the role's sessions are
// terminated, Revocation runs and the role is dropped.
type Role struct {
	Path       secrets.Path
	Database   string // a name of secrets.databases
	Creation   []string
	Revocation []string
	DefaultTTL time.Duration
	MaxTTL     time.Duration // from creation, renewals included
}

// Lease is one dynamic credential. Password is set only in the answer
// of Engine.Create (it is never stored: the role holds it).
type Lease struct {
	ID           string // random, 128 bits, hex
	Path         secrets.Path
	Database     string
	Username     string
	Password     secrets.Value
	Owner        string // the creating principal's Actor()
	CreatedAt    time.Time
	ExpiresAt    time.Time
	MaxExpiresAt time.Time
	RevokedAt    time.Time // zero: live
}
