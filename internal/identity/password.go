// Package identity holds users, password hashing, TOTP and login sessions.
package identity

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id parameters (RFC 9106).
type Params struct {
	MemoryKiB uint32 // m
	Time      uint32 // t (iterations)
	Threads   uint8  // p (lanes)
}

// DefaultParams are the OWASP Password Storage Cheat Sheet's argon2id
// minimum: 19 MiB, 2 iterations, 1 lane (equivalent in cost to its other
// listed configurations). Raising them makes stored hashes "need rehash" and
// they are upgraded at the next successful login.
var DefaultParams = Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

// Bounds on parameters read from a PHC string. Hashes come from the database
// or from configuration (client secret_hash): a hostile value must not be
// able to make one verification allocate gigabytes or run for minutes.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 16
	maxThreads   = 16
	saltLen      = 16
	keyLen       = 32
	minSaltLen   = 8
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 64
	// MaxPasswordBytes caps the input: argon2 accepts any length, but a
	// megabyte "password" is an attack on the server, not a credential.
	MaxPasswordBytes = 1024
)

// Errors.
var (
	ErrMalformedHash = errors.New("identity: malformed password hash")
	ErrPasswordSize  = fmt.Errorf("identity: password longer than %d bytes", MaxPasswordBytes)
	// ErrBusy: every hashing slot of a bounded Hasher stayed taken for its
	// whole maximum wait; nothing was hashed.
	ErrBusy = errors.New("identity: every argon2id slot is busy")
)

// Hasher hashes and verifies passwords with argon2id. It bounds how many
// hashes run at once, so a login flood queues instead of exhausting memory
// (each hash holds MemoryKiB of RAM for its duration).
type Hasher struct {
	params  Params
	sem     chan struct{}
	maxWait time.Duration // 0: wait as long as the context allows
	rand    io.Reader
	dummy   string // a hash of a random password, verified for unknown users

	hashes, waited, busy atomic.Int64
}

// HasherStats counts what a Hasher did since it was made.
type HasherStats struct {
	// Hashes is how many argon2id computations ran (hashes and checks).
	Hashes int64
	// Waited is how many of them found every slot taken and queued.
	Waited int64
	// Busy is how many were refused with ErrBusy.
	Busy int64
}

// Stats returns the Hasher's counters.
func (h *Hasher) Stats() HasherStats {
	return HasherStats{Hashes: h.hashes.Load(), Waited: h.waited.Load(), Busy: h.busy.Load()}
}

// NewHasher returns a Hasher using params (DefaultParams when zero) with at
// most concurrency hashes in flight (default 4). A caller waits for a slot
// as long as its context allows. rnd defaults to crypto/rand.
func NewHasher(params Params, concurrency int, rnd io.Reader) (*Hasher, error) {
	return NewBoundedHasher(params, concurrency, 0, rnd)
}

// NewBoundedHasher is NewHasher whose callers wait at most maxWait for a
// slot and then get ErrBusy (0: no bound). Give work that strangers can
// trigger its own bounded Hasher, so that a flood of it is refused quickly
// instead of queueing, and never takes the slots of another Hasher (the
// sign-in one).
func NewBoundedHasher(params Params, concurrency int, maxWait time.Duration, rnd io.Reader) (*Hasher, error) {
	if params == (Params{}) {
		params = DefaultParams
	}
	if err := params.check(); err != nil {
		return nil, err
	}
	if params.MemoryKiB < DefaultParams.MemoryKiB || params.Time < 1 {
		return nil, errors.New("identity: argon2id parameters below the OWASP minimum (19 MiB, t=2, p=1 or equivalent)")
	}
	if concurrency <= 0 {
		concurrency = 4
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	if maxWait < 0 {
		maxWait = 0
	}
	h := &Hasher{params: params, sem: make(chan struct{}, concurrency), maxWait: maxWait, rand: rnd}
	secret := make([]byte, 32)
	if _, err := io.ReadFull(rnd, secret); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	dummy, err := h.hash(string(secret))
	if err != nil {
		return nil, err
	}
	h.dummy = dummy
	return h, nil
}

func (p Params) check() error {
	if p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxMemoryKiB || p.Time < 1 || p.Time > maxTime || p.Threads < 1 || p.Threads > maxThreads {
		return fmt.Errorf("identity: argon2id parameters out of bounds (m=%d, t=%d, p=%d)", p.MemoryKiB, p.Time, p.Threads)
	}
	return nil
}

// acquire waits for a hashing slot, ctx, or (when bounded) maxWait.
func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		h.hashes.Add(1)
		return nil
	default:
	}
	h.waited.Add(1)
	var timeout <-chan time.Time
	if h.maxWait > 0 {
		t := time.NewTimer(h.maxWait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case h.sem <- struct{}{}:
		h.hashes.Add(1)
		return nil
	case <-timeout:
		h.busy.Add(1)
		return ErrBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.sem }

// Hash returns the PHC string of password with a fresh random salt.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if len(password) > MaxPasswordBytes {
		return "", ErrPasswordSize
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.hash(password)
}

func (h *Hasher) hash(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := io.ReadFull(h.rand, salt); err != nil {
		return "", fmt.Errorf("identity: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, h.params.Time, h.params.MemoryKiB, h.params.Threads, keyLen)
	return FormatPHC(h.params, salt, key), nil
}

// Verify reports whether password matches the PHC string, and whether the
// hash should be replaced because its parameters are weaker than the
// Hasher's. The comparison is constant-time.
func (h *Hasher) Verify(ctx context.Context, password, phc string) (ok, rehash bool, err error) {
	if len(password) > MaxPasswordBytes {
		return false, false, ErrPasswordSize
	}
	p, salt, want, err := ParsePHC(phc)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want))) // #nosec G115 -- len(want) ≤ maxKeyLen.
	ok = subtle.ConstantTimeCompare(got, want) == 1
	rehash = p.MemoryKiB < h.params.MemoryKiB || p.Time < h.params.Time || p.Threads < h.params.Threads || len(salt) < saltLen || len(want) < keyLen
	return ok, ok && rehash, nil
}

// VerifyDummy spends the time of one verification and returns false. Call
// it when the user does not exist, so "unknown user" and "wrong password"
// take the same time (OWASP Authentication Cheat Sheet, "Authentication
// Responses").
func (h *Hasher) VerifyDummy(ctx context.Context, password string) {
	if len(password) > MaxPasswordBytes {
		password = password[:MaxPasswordBytes]
	}
	_, _, _ = h.Verify(ctx, password, h.dummy)
}

var b64 = base64.RawStdEncoding.Strict()

// decodeB64 decodes strictly, refusing bytes outside the alphabet (Go's
// decoder skips CR and LF even in strict mode).
func decodeB64(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
			return nil, ErrMalformedHash
		}
	}
	return b64.DecodeString(s)
}

// FormatPHC encodes an argon2id hash in the PHC string format:
// $argon2id$v=19$m=<m>,t=<t>,p=<p>$<salt>$<hash> (unpadded standard base64).
func FormatPHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// ParsePHC decodes an argon2id PHC string strictly: algorithm argon2id,
// version 19, parameters in the fixed order m,t,p within bounds, canonical
// unpadded base64 salt (8–64 bytes) and hash (16–64 bytes).
func ParsePHC(s string) (Params, []byte, []byte, error) {
	var p Params
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v=19" {
		return p, nil, nil, ErrMalformedHash
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return p, nil, nil, ErrMalformedHash
	}
	vals := [3]uint64{}
	for i, name := range []string{"m=", "t=", "p="} {
		if !strings.HasPrefix(kv[i], name) {
			return p, nil, nil, ErrMalformedHash
		}
		num := kv[i][2:]
		if num == "" || (len(num) > 1 && num[0] == '0') {
			return p, nil, nil, ErrMalformedHash
		}
		v, err := strconv.ParseUint(num, 10, 32)
		if err != nil {
			return p, nil, nil, ErrMalformedHash
		}
		vals[i] = v
	}
	if vals[2] > maxThreads {
		return p, nil, nil, ErrMalformedHash
	}
	p = Params{MemoryKiB: uint32(vals[0]), Time: uint32(vals[1]), Threads: uint8(vals[2])} // #nosec G115 -- parsed with bitSize 32 and p checked above.
	if err := p.check(); err != nil {
		return p, nil, nil, ErrMalformedHash
	}
	salt, err := decodeB64(parts[4])
	if err != nil || len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return p, nil, nil, ErrMalformedHash
	}
	key, err := decodeB64(parts[5])
	if err != nil || len(key) < minKeyLen || len(key) > maxKeyLen {
		return p, nil, nil, ErrMalformedHash
	}
	return p, salt, key, nil
}
