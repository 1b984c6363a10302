// Package keys manages Rampart's token signing keys: private keys sealed at
// rest under the master key (internal/kms), keys with exactly one algorithm and an
// RFC 7638 kid, their life cycle (published → active → retired → removed)
// on a schedule and on demand, and the JWKS that publishes them.
//
// Several instances may share one database. Every ring change is one
// transaction that compare-and-swaps key_ring.generation, and unique
// indexes allow one active and one waiting key, so instances never disagree
// on the signing key for longer than one poll and never both rotate.
//
// Audit is write-ahead: the events of a change are durably recorded before
// the change commits, and if recording fails nothing changes. If the commit
// then fails (another instance won, or the database failed), a failure
// event with the same action and target follows, best effort. The log thus
// never lacks evidence of a change that happened; it may show an attempt
// that did not.
package keys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
)

// SystemActor is the audit actor of scheduled changes.
const SystemActor = "system"

// clockSkew is added to the token lifetime before a retired key leaves the
// JWKS: verifiers whose clocks run behind (RFC 7519 §4.1.4 leeway), and
// instances that signed with the old key for a poll interval after another
// one retired it, still find the key. 5 minutes is the customary leeway.
const clockSkew = 5 * time.Minute

// jwksRefreshInterval bounds how stale the served JWKS may be relative to
// the database, and how often a request may cost a generation query.
const jwksRefreshInterval = time.Second

// maxStepAttempts bounds retries after losing a compare-and-swap.
const maxStepAttempts = 8

// Errors.
var (
	// ErrNoActiveKey: no usable key signs right now (Init not run, or the
	// active key cannot be opened with this master key).
	ErrNoActiveKey = errors.New("keys: no active signing key")
	// ErrRotationPending is returned by Rotate, with the waiting key, when a
	// published key is already waiting to activate.
	ErrRotationPending = errors.New("keys: a new key is already published and waiting to activate")
)

// Sealer seals private keys at rest with associated data; *kms.Keyring
// and *kms.KEK implement it.
type Sealer interface {
	Seal(ad, plaintext []byte) ([]byte, error)
	Open(ad, ciphertext []byte) ([]byte, error)
}

// Options configures a Manager. Store, Master, Auditor and
// MaxTokenLifetime are required; the rest default to the configuration
// defaults.
type Options struct {
	Store Store
	// Master seals and opens the private keys at rest: the kms.Keyring
	// (the master key's current key-encryption key).
	Master Sealer
	// Algorithm of new keys: ES256 (default), EdDSA, RS256 or PS256.
	Algorithm string
	// RSABits for RS256/PS256 (default 3072, minimum 2048).
	RSABits int
	// RotationPeriod is how long a key signs (default 720h).
	RotationPeriod time.Duration
	// PublishAhead is how long a new key is in the JWKS before it signs
	// (default 1h); at least JWKSMaxAge.
	PublishAhead time.Duration
	// MaxTokenLifetime is the longest lifetime of any token a key signs
	// (access and ID tokens alike); a retired key stays published that long
	// after it stops signing, plus a clock-skew margin.
	MaxTokenLifetime time.Duration
	// JWKSMaxAge is the JWKS Cache-Control max-age (default 5m).
	JWKSMaxAge time.Duration
	// PollInterval is how often Run looks for changes (default 2s).
	PollInterval time.Duration
	Clock        func() time.Time
	// Rand is passed to key generation. The standard library ignores it
	// since Go 1.26 (see generateKey).
	Rand    io.Reader
	Logger  *slog.Logger
	Auditor Auditor
}

// KeyInfo describes a key for listing; it holds no secret.
type KeyInfo struct {
	KID        string
	Algorithm  string
	State      State
	CreatedAt  time.Time
	ActivateAt time.Time
	RetiredAt  time.Time
	RemoveAt   time.Time
}

// Manager owns the key ring of one instance. It is safe for concurrent use.
type Manager struct {
	store        Store
	master       Sealer
	auditor      Auditor
	log          *slog.Logger
	clock        func() time.Time
	rand         io.Reader
	alg          string
	rsaBits      int
	rotation     time.Duration
	publishAhead time.Duration
	maxTokenLife time.Duration
	poll         time.Duration
	cacheControl []string // the Cache-Control header value

	stepMu   sync.Mutex // one ring change at a time in this process
	reloadMu sync.Mutex // one reload at a time; guards cache
	cache    map[string]*openedKey

	ring      atomic.Pointer[ring]
	versions  atomic.Uint64 // last ring.version handed out
	lastCheck atomic.Int64  // clock time (Unix ns) of the last generation query
	sf        singleflight.Group
}

// openedKey is a key whose private half was decrypted and checked.
type openedKey struct {
	enc  []byte // the sealed bytes it was opened from
	pub  jose.JSONWebKey
	priv crypto.Signer // kept only while published or active
}

// ring is an immutable snapshot of the key ring, swapped atomically.
type ring struct {
	gen      int64
	version  uint64      // unique per snapshot, even when gen is unchanged (see KeySetVersion)
	records  []KeyRecord // without PrivateEnc
	active   *ActiveKey
	jwks     jose.JSONWebKeySet
	doc      []byte   // serialized JWKS
	etag     []string // strong ETag header value
	length   []string // Content-Length header value
	problems []error
}

// NewManager checks opts and returns a Manager. Call Init before use.
func NewManager(opts Options) (*Manager, error) {
	if opts.Store == nil || opts.Master == nil || opts.Auditor == nil {
		return nil, errors.New("keys: Store, Master and Auditor are required")
	}
	m := &Manager{
		store: opts.Store, master: opts.Master, auditor: opts.Auditor,
		log: opts.Logger, clock: opts.Clock, rand: opts.Rand,
		alg: opts.Algorithm, rsaBits: opts.RSABits,
		rotation: opts.RotationPeriod, publishAhead: opts.PublishAhead,
		maxTokenLife: opts.MaxTokenLifetime, poll: opts.PollInterval,
		cache: make(map[string]*openedKey),
	}
	setDefault(&m.alg, AlgES256)
	setDefault(&m.rsaBits, DefaultRSABits)
	setDefault(&m.rotation, 720*time.Hour)
	setDefault(&m.publishAhead, time.Hour)
	setDefault(&m.poll, 2*time.Second)
	maxAge := opts.JWKSMaxAge
	setDefault(&maxAge, 5*time.Minute)
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.clock == nil {
		m.clock = time.Now
	}
	if m.rand == nil {
		m.rand = rand.Reader
	}
	switch {
	case !validAlgorithm(m.alg):
		return nil, fmt.Errorf("keys: unsupported algorithm %q; use ES256, EdDSA, RS256 or PS256", m.alg)
	case (m.alg == AlgRS256 || m.alg == AlgPS256) && m.rsaBits < MinRSABits:
		return nil, fmt.Errorf("keys: RSA keys must be at least %d bits (RFC 7518 §3.3), got %d", MinRSABits, m.rsaBits)
	case m.maxTokenLife <= 0:
		return nil, errors.New("keys: MaxTokenLifetime is required: retired keys stay published that long")
	case maxAge < 0:
		return nil, errors.New("keys: JWKSMaxAge must not be negative")
	case m.publishAhead < maxAge:
		// A key must be in every verifier's cached JWKS before it signs
		// (RFC 7517 gives no push; caches only refetch after max-age).
		return nil, fmt.Errorf("keys: PublishAhead %s is shorter than JWKSMaxAge %s", m.publishAhead, maxAge)
	case m.rotation <= m.publishAhead:
		return nil, fmt.Errorf("keys: RotationPeriod %s must be longer than PublishAhead %s", m.rotation, m.publishAhead)
	}
	m.cacheControl = []string{"public, max-age=" + strconv.Itoa(int(maxAge/time.Second))}
	return m, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Init loads the key ring and makes it ready to sign: on an empty ring it
// generates a key and activates it at once (no token exists yet to be
// verified), then it runs one schedule step. It fails, so the server does
// not start, when a stored key cannot be opened with this master key.
func (m *Manager) Init(ctx context.Context, actor string) error {
	rg, err := m.reload(ctx)
	if err != nil {
		return err
	}
	if len(rg.problems) > 0 {
		return ringProblem(rg.problems)
	}
	if _, err := m.step(ctx, actor, false); err != nil {
		return err
	}
	if rg := m.ring.Load(); rg == nil || rg.active == nil {
		return ErrNoActiveKey
	}
	return nil
}

func ringProblem(problems []error) error {
	return fmt.Errorf("keys: stored signing keys cannot be opened; is this the master key (RAMPART_MASTER_KEY or master_key_file) that sealed them? %w", errors.Join(problems...))
}

// Run keeps the ring current until ctx is done: every PollInterval it
// checks key_ring.generation (one cheap query), reloads when another
// instance or the CLI changed the ring, and performs the schedule steps
// that are due. Errors are logged and retried at the next poll.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := m.tick(ctx); err != nil && ctx.Err() == nil {
			m.log.Error("keys: schedule step failed; retrying at the next poll", "err", err)
		}
	}
}

// tick is one Run iteration.
func (m *Manager) tick(ctx context.Context) error {
	m.refresh(ctx, true)
	rg := m.ring.Load()
	if rg != nil && m.decide(m.clock(), rg.records, false).empty() {
		return nil
	}
	_, err := m.step(ctx, SystemActor, false)
	return err
}

// Rotate publishes a new key now, to activate after PublishAhead (so every
// JWKS cache learns it first); the current key retires then. Keys are not
// stacked: when a published key is already waiting, Rotate adds none and
// returns that key with ErrRotationPending (errors.Is), so the CLI can say
// which key activates when. The request is audited either way.
func (m *Manager) Rotate(ctx context.Context, actor string) (KeyInfo, error) {
	return m.step(ctx, actor, true)
}

// List returns every key, removed ones included, oldest first, as stored
// now in the database.
func (m *Manager) List(ctx context.Context) ([]KeyInfo, error) {
	kr, err := m.store.LoadKeyRing(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: list: %w", err)
	}
	out := make([]KeyInfo, 0, len(kr.Keys))
	for i := range kr.Keys {
		out = append(out, infoOf(&kr.Keys[i]))
	}
	return out, nil
}

func infoOf(r *KeyRecord) KeyInfo {
	return KeyInfo{KID: r.KID, Algorithm: r.Algorithm, State: r.State, CreatedAt: r.CreatedAt,
		ActivateAt: r.ActivateAt, RetiredAt: r.RetiredAt, RemoveAt: r.RemoveAt}
}

// Signer returns the active key, decrypted once at load and kept in memory.
func (m *Manager) Signer() (ActiveKey, error) {
	rg := m.ring.Load()
	if rg == nil || rg.active == nil {
		return ActiveKey{}, ErrNoActiveKey
	}
	return *rg.active, nil
}

// PublicJWKS returns the published, active and retired keys, public members
// only.
func (m *Manager) PublicJWKS() jose.JSONWebKeySet {
	rg := m.ring.Load()
	if rg == nil {
		return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	}
	return jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), rg.jwks.Keys...)}
}

// KeySetVersion identifies the snapshot PublicJWKS serves: it changes
// whenever the published key set may have changed (a reload after this
// instance's, another instance's or the CLI's change; Run looks every
// PollInterval). One atomic load, so a verifier may call it per token and
// rebuild what it derived from the set only when it changed.
func (m *Manager) KeySetVersion() uint64 {
	if rg := m.ring.Load(); rg != nil {
		return rg.version
	}
	return 0
}

// PublicKeySet is PublicJWKS with the KeySetVersion of the same snapshot.
func (m *Manager) PublicKeySet() (uint64, jose.JSONWebKeySet) {
	rg := m.ring.Load()
	if rg == nil {
		return 0, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	}
	return rg.version, jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), rg.jwks.Keys...)}
}

// refresh reloads the ring when key_ring.generation changed. Unless force,
// it queries at most once per jwksRefreshInterval, and concurrent callers
// share one query (singleflight). Failures are logged: the last good ring
// stays in use.
func (m *Manager) refresh(ctx context.Context, force bool) {
	if !force && m.fresh() {
		return
	}
	_, _, _ = m.sf.Do("generation", func() (any, error) {
		if !force && m.fresh() {
			return nil, nil // a caller just ahead of us did it
		}
		// Detached from the request: the query is shared by every waiting
		// caller, so one caller hanging up must not fail the others.
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		// Marked fresh (as of the start) only once done, failed or not:
		// until then new callers join this call and wait for its result
		// instead of serving the ring it is about to replace.
		start := m.clock().UnixNano()
		defer func() { m.lastCheck.Store(start) }()
		gen, err := m.store.KeyRingGeneration(qctx)
		if err != nil {
			m.log.Warn("keys: cannot check the key ring generation; serving the cached key ring", "err", err)
			return nil, nil
		}
		if rg := m.ring.Load(); rg != nil && rg.gen == gen {
			return nil, nil
		}
		if _, err := m.reload(qctx); err != nil {
			m.log.Warn("keys: cannot reload the key ring; serving the cached key ring", "err", err)
		}
		return nil, nil
	})
}

func (m *Manager) fresh() bool {
	d := m.clock().UnixNano() - m.lastCheck.Load()
	return d >= 0 && d < int64(jwksRefreshInterval)
}

// reload reads the ring from the store, opens its keys and swaps in the new
// snapshot.
func (m *Manager) reload(ctx context.Context) (*ring, error) {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	kr, err := m.store.LoadKeyRing(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: load key ring: %w", err)
	}
	if cur := m.ring.Load(); cur != nil && cur.gen == kr.Generation && len(cur.problems) == 0 {
		return cur, nil
	}
	rg, err := m.build(kr)
	if err != nil {
		return nil, err
	}
	for _, p := range rg.problems {
		m.log.Error("keys: signing key left out of the key ring", "err", p)
	}
	rg.version = m.versions.Add(1)
	m.ring.Store(rg)
	return rg, nil
}

// build opens and checks every key that is not removed and serializes the
// JWKS. A key that fails is left out and reported in problems.
func (m *Manager) build(kr KeyRing) (*ring, error) {
	rg := &ring{gen: kr.Generation, records: make([]KeyRecord, len(kr.Keys))}
	var active, published, retired []jose.JSONWebKey
	seen := make(map[string]bool, len(kr.Keys))
	for i := range kr.Keys {
		rec := &kr.Keys[i]
		rg.records[i] = *rec
		rg.records[i].PrivateEnc = nil
		if rec.State == StateRemoved || rec.State == StateRevoked {
			continue // never opened again: out of signing, the JWKS and verification
		}
		k, err := m.open(rec)
		if err != nil {
			rg.problems = append(rg.problems, fmt.Errorf("key %s (%s): %w", rec.KID, rec.State, err))
			continue
		}
		seen[rec.KID] = true
		switch rec.State {
		case StateActive:
			if rg.active != nil {
				rg.problems = append(rg.problems, fmt.Errorf("key %s: a second active key", rec.KID))
				continue
			}
			rg.active = &ActiveKey{KID: rec.KID, Algorithm: rec.Algorithm, Signer: k.priv}
			active = append(active, k.pub)
		case StatePublished:
			published = append(published, k.pub)
		case StateRetired:
			k.priv = nil // verification only: do not keep the private key in memory
			retired = append([]jose.JSONWebKey{k.pub}, retired...)
		}
	}
	for kid := range m.cache {
		if !seen[kid] {
			delete(m.cache, kid)
		}
	}
	// Active first, then the waiting key, then retired keys newest first.
	rg.jwks.Keys = append(append(append(make([]jose.JSONWebKey, 0, len(active)+len(published)+len(retired)), active...), published...), retired...)
	doc, err := json.Marshal(rg.jwks)
	if err != nil {
		return nil, fmt.Errorf("keys: serialize JWKS: %w", err)
	}
	sum := sha256.Sum256(doc)
	rg.doc = doc
	rg.etag = []string{`"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`}
	rg.length = []string{strconv.Itoa(len(doc))}
	return rg, nil
}

// open returns the opened key of rec, decrypting it only the first time
// (or when its ciphertext changed). Caller holds reloadMu.
func (m *Manager) open(rec *KeyRecord) (*openedKey, error) {
	if k, ok := m.cache[rec.KID]; ok && bytes.Equal(k.enc, rec.PrivateEnc) &&
		(k.priv != nil || rec.State == StateRetired) {
		return k, nil
	}
	priv, pub, err := openPrivate(m.master, rec)
	if err != nil {
		return nil, err
	}
	k := &openedKey{enc: bytes.Clone(rec.PrivateEnc), pub: pub, priv: priv}
	m.cache[rec.KID] = k
	return k, nil
}
