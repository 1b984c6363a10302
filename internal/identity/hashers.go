package identity

import (
	"crypto/rand"
	"runtime"
	"time"
)

// NewPasswordHasher is the argon2id hasher of sign-in passwords. At most
// GOMAXPROCS hashes (19 MiB each, OWASP Password Storage Cheat Sheet
// parameters) run at once; a login flood queues instead of exhausting
// memory.
func NewPasswordHasher() (*Hasher, error) {
	return NewHasher(Params{}, runtime.GOMAXPROCS(0), rand.Reader)
}

// ClientSecretHashMaxWait bounds how long a token request waits for the
// client-secret hasher before it is answered 503 temporarily_unavailable.
const ClientSecretHashMaxWait = 250 * time.Millisecond

// NewClientSecretHasher is the argon2id hasher for clients' secret_hash,
// apart from sign-in's: anyone can make the token endpoint check a wrong
// secret, so that work gets a small budget of its own (1 slot, 2 from 4
// cores on) and a bounded wait, and a flood of it never takes sign-in's
// slots. Clients with secret_env (HMAC-SHA-256) never use it.
func NewClientSecretHasher() (*Hasher, error) {
	return NewBoundedHasher(Params{}, max(1, min(2, runtime.GOMAXPROCS(0)/2)), ClientSecretHashMaxWait, rand.Reader)
}
