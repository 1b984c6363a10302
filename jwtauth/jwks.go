package jwtauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
)

// JWKS defaults.
const (
	DefaultJWKSTimeout         = 5 * time.Second
	DefaultJWKSMaxBodyBytes    = 1 << 20
	DefaultJWKSMinTTL          = time.Minute
	DefaultJWKSMaxTTL          = 24 * time.Hour
	DefaultJWKSTTL             = 5 * time.Minute
	DefaultJWKSStaleFor        = time.Hour
	DefaultJWKSRefetchCooldown = 30 * time.Second
	// MaxJWKSKeys bounds the keys in one set: a larger set is refused, so a
	// hostile or broken issuer cannot make every fetch parse thousands of
	// keys.
	MaxJWKSKeys = 100
)

// JWKSConfig configures a JWKS key source. Zero values take the defaults.
type JWKSConfig struct {
	// URL is the issuer's jwks_uri: https, or http only when the host is a
	// loopback IP or "localhost" (keys fetched in clear text over a network
	// could be replaced by anyone on the path; RFC 8414 §2 and OpenID
	// Connect Discovery §3 require TLS). It must not carry credentials.
	URL string
	// HTTPClient fetches the set. Default: a client with a 5 s timeout. A
	// copy is used whose CheckRedirect refuses redirects that change scheme
	// or host (an open redirect on the issuer must not let another origin
	// supply keys) and more than 3 redirects; a zero Timeout becomes 5 s.
	HTTPClient *http.Client
	// MaxBodyBytes caps the response body (default 1 MiB).
	MaxBodyBytes int64
	// MinTTL, MaxTTL bound the cache lifetime taken from Cache-Control
	// max-age (defaults 1 m, 24 h); "no-store" or "no-cache" give MinTTL.
	// DefaultTTL (5 m) applies when the response has no max-age.
	MinTTL, MaxTTL, DefaultTTL time.Duration
	// StaleFor is how long past expiry keys are still served while
	// refreshing fails (default 1 h). After that Key fails closed.
	StaleFor time.Duration
	// RefetchCooldown is the minimum time between fetches triggered by
	// requests (unknown kid, expired set, failed issuer); default 30 s, or
	// MinTTL when that is shorter; it may not exceed MinTTL. Refresh and the
	// Start loop are not subject to it.
	RefetchCooldown time.Duration
	// Clock returns the current time (default time.Now).
	Clock func() time.Time
	// Observer receives JWKSFetched and JWKSStale (default NopObserver).
	Observer Observer
	// Logger receives a warning for each key of a fetched set that is
	// skipped by the key policy (default: discard).
	Logger *slog.Logger
}

// JWKS is a KeySource over an issuer's JSON Web Key Set (RFC 7517 §5),
// fetched lazily, cached for a TTL derived from Cache-Control, refetched on
// an unknown kid at most once per cool-down, and served stale for a bounded
// time while the issuer is down. It is safe for concurrent use.
type JWKS struct {
	cfg    JWKSConfig
	client *http.Client
	obs    Observer
	log    *slog.Logger

	// snap is the current immutable key set; Key reads it without locks.
	snap atomic.Pointer[jwksSnapshot]
	// lastAttempt is the clock time (UnixNano) of the last fetch attempt,
	// 0 before the first; inflight is true while a fetch runs; lastErr
	// holds the last attempt's error (nil pointer or nil err: success).
	lastAttempt atomic.Int64
	inflight    atomic.Bool
	lastErr     atomic.Pointer[fetchError]
	// group runs one fetch at a time, shared by all callers.
	group   singleflight.Group
	started atomic.Bool
}

type fetchError struct{ err error }

var _ KeySource = (*JWKS)(nil)

// jwksSnapshot is one fetched key set; never modified after it is stored.
type jwksSnapshot struct {
	byID    map[string]*Key
	only    *Key // the set's single key, for tokens without kid
	fetched time.Time
	expires time.Time
	skipped []string
}

func (s *jwksSnapshot) lookup(kid string) *Key {
	if kid == "" {
		return s.only
	}
	return s.byID[kid]
}

// NewJWKS validates cfg and returns a JWKS. It does not fetch: the first
// Key (or Refresh, or Start) does.
func NewJWKS(cfg JWKSConfig) (*JWKS, error) {
	if _, err := checkEndpoint(cfg.URL); err != nil {
		return nil, fmt.Errorf("jwtauth: JWKS URL: %w", err)
	}
	if cfg.MaxBodyBytes < 0 || cfg.MinTTL < 0 || cfg.MaxTTL < 0 || cfg.DefaultTTL < 0 ||
		cfg.StaleFor < 0 || cfg.RefetchCooldown < 0 {
		return nil, errors.New("jwtauth: JWKS sizes and durations must not be negative (0 takes the default)")
	}
	setDefault(&cfg.MaxBodyBytes, DefaultJWKSMaxBodyBytes)
	setDefault(&cfg.MinTTL, DefaultJWKSMinTTL)
	setDefault(&cfg.MaxTTL, DefaultJWKSMaxTTL)
	setDefault(&cfg.DefaultTTL, DefaultJWKSTTL)
	setDefault(&cfg.StaleFor, DefaultJWKSStaleFor)
	if cfg.RefetchCooldown == 0 {
		cfg.RefetchCooldown = min(DefaultJWKSRefetchCooldown, cfg.MinTTL)
	}
	if cfg.MinTTL > cfg.MaxTTL {
		return nil, fmt.Errorf("jwtauth: JWKS MinTTL %s exceeds MaxTTL %s", cfg.MinTTL, cfg.MaxTTL)
	}
	if cfg.DefaultTTL < cfg.MinTTL || cfg.DefaultTTL > cfg.MaxTTL {
		return nil, fmt.Errorf("jwtauth: JWKS DefaultTTL %s is outside [MinTTL %s, MaxTTL %s]", cfg.DefaultTTL, cfg.MinTTL, cfg.MaxTTL)
	}
	// An expired set is refreshed only outside the cool-down; a cool-down
	// longer than the shortest TTL would make a healthy issuer's keys stale.
	if cfg.RefetchCooldown > cfg.MinTTL {
		return nil, fmt.Errorf("jwtauth: JWKS RefetchCooldown %s exceeds MinTTL %s", cfg.RefetchCooldown, cfg.MinTTL)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	j := &JWKS{cfg: cfg, client: secureClient(cfg.HTTPClient), obs: cfg.Observer, log: cfg.Logger}
	if j.obs == nil {
		j.obs = NopObserver{}
	}
	if j.log == nil {
		j.log = slog.New(slog.DiscardHandler)
	}
	return j, nil
}

func setDefault[T int64 | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// Key implements KeySource. On a fresh cache it is a lock-free map lookup
// without allocations. An unknown kid triggers one refetch shared by all
// concurrent callers, at most once per RefetchCooldown, so a flood of junk
// kids cannot hammer the issuer; otherwise it returns ErrUnknownKey. When
// the set has expired and cannot be refreshed, keys are served for
// StaleFor more (reported to Observer.JWKSStale); after that Key returns an
// error that is not ErrUnknownKey (fail closed).
func (j *JWKS) Key(ctx context.Context, kid string) (*Key, error) {
	now := j.cfg.Clock()
	if s := j.snap.Load(); s != nil && now.Before(s.expires) {
		if k := s.lookup(kid); k != nil {
			return k, nil
		}
	}
	return j.slowKey(ctx, kid)
}

// slowKey handles a missing or expired snapshot and unknown kids. While
// cooling down and no fetch is running it neither locks nor allocates
// (a junk-kid flood costs the issuer nothing and us little).
func (j *JWKS) slowKey(ctx context.Context, kid string) (*Key, error) {
	var err error
	if j.coolingDown(j.cfg.Clock()) && !j.inflight.Load() {
		// No fetch now (a failing issuer is retried once per cool-down, not
		// once per request): answer from what we have.
		err = j.lastError()
	} else {
		// Start a fetch, or join the one in flight (which may be fetching
		// the very key rotation this kid belongs to).
		err = j.refresh(ctx, false)
	}
	now := j.cfg.Clock()
	s := j.snap.Load()
	if s == nil {
		if err == nil {
			err = errors.New("no key set fetched yet")
		}
		return nil, fmt.Errorf("jwtauth: JWKS %s: no keys: %w", j.cfg.URL, err)
	}
	if now.Before(s.expires) {
		if k := s.lookup(kid); k != nil {
			return k, nil
		}
		return nil, ErrUnknownKey
	}
	// Expired and not refreshed: serve the last good set for a bounded time
	// (availability while the issuer is down), then fail closed so keys the
	// issuer has since revoked are not trusted forever.
	if now.Before(s.expires.Add(j.cfg.StaleFor)) {
		k := s.lookup(kid)
		if k == nil {
			return nil, ErrUnknownKey
		}
		j.obs.JWKSStale(j.cfg.URL)
		return k, nil
	}
	if err == nil {
		err = errors.New("refresh did not succeed")
	}
	return nil, fmt.Errorf("jwtauth: JWKS %s: keys expired at %s and could not be refreshed: %w",
		j.cfg.URL, s.expires.UTC().Format(time.RFC3339), err)
}

// coolingDown reports whether a request-triggered fetch is not allowed yet.
func (j *JWKS) coolingDown(now time.Time) bool {
	last := j.lastAttempt.Load()
	return last != 0 && now.Sub(time.Unix(0, last)) < j.cfg.RefetchCooldown
}

func (j *JWKS) lastError() error {
	if e := j.lastErr.Load(); e != nil {
		return e.err
	}
	return nil
}

// Refresh fetches the set now, regardless of the cool-down; concurrent
// calls share one fetch. On failure the previous set is kept.
func (j *JWKS) Refresh(ctx context.Context) error {
	return j.refresh(ctx, true)
}

// refresh runs one fetch shared by concurrent callers (singleflight). A
// request-triggered (not forced) fetch is skipped during the cool-down and
// reports the last fetch's error. The fetch is detached from the caller's
// cancellation, so one impatient caller does not fail the others; each
// caller still stops waiting when its own ctx ends.
func (j *JWKS) refresh(ctx context.Context, force bool) error {
	fctx := context.WithoutCancel(ctx)
	// A forced caller that joined a request-triggered call which declined
	// to fetch (cool-down) tries again; the bound only guards against an
	// endless run of such calls.
	for range 8 {
		ch := j.group.DoChan("fetch", func() (any, error) { return j.fetchGated(fctx, force) })
		select {
		case r := <-ch:
			if fetched, _ := r.Val.(bool); force && !fetched {
				continue
			}
			return r.Err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return j.lastError()
}

// fetchGated fetches unless the call is request-triggered and the
// cool-down has not elapsed; it reports whether it fetched. The
// singleflight group runs one at a time.
func (j *JWKS) fetchGated(ctx context.Context, force bool) (bool, error) {
	now := j.cfg.Clock()
	if !force && j.coolingDown(now) {
		if err := j.lastError(); err != nil {
			return false, fmt.Errorf("refetch cooling down after: %w", err)
		}
		return false, nil
	}
	// inflight before lastAttempt: whoever sees the new attempt time also
	// sees the fetch running and joins it rather than giving up.
	j.inflight.Store(true)
	defer j.inflight.Store(false)
	j.lastAttempt.Store(now.UnixNano())

	s, err := j.fetch(ctx)
	if err != nil {
		err = fmt.Errorf("jwtauth: JWKS %s: %w", j.cfg.URL, err)
	} else {
		j.snap.Store(s)
	}
	j.lastErr.Store(&fetchError{err})
	j.obs.JWKSFetched(j.cfg.URL, err)
	return true, err
}

// fetch downloads and parses the set.
func (j *JWKS) fetch(ctx context.Context) (*jwksSnapshot, error) {
	body, hdr, err := httpGet(ctx, j.client, j.cfg.URL, j.cfg.MaxBodyBytes, "application/jwk-set+json, application/json")
	if err != nil {
		return nil, err
	}
	byID, only, skipped, err := parseJWKS(body)
	for _, s := range skipped {
		j.log.Warn("jwtauth: JWKS key skipped", "url", j.cfg.URL, "reason", s)
	}
	if err != nil {
		return nil, err
	}
	now := j.cfg.Clock()
	ttl := cacheTTL(hdr, j.cfg.MinTTL, j.cfg.MaxTTL, j.cfg.DefaultTTL)
	return &jwksSnapshot{byID: byID, only: only, fetched: now, expires: now.Add(ttl), skipped: skipped}, nil
}

// parseJWKS parses a JWK Set strictly: one JSON object without duplicate
// members and a "keys" array (other members are ignored, RFC 7517 §5).
// Each key goes through the key policy (KeyFromJWK with no default alg, so
// every key must name its algorithm: RFC 8725 §3.1); a key that fails is
// skipped and described in skipped, never used. Keys sharing a kid are all
// dropped: which one a token means would be ambiguous. A key without kid is
// usable only when it is the set's single usable key. A set with no usable
// key is an error.
func parseJWKS(body []byte) (byID map[string]*Key, only *Key, skipped []string, err error) {
	if err := checkJSONObjectNames(body, jwkSetNames); err != nil {
		return nil, nil, nil, fmt.Errorf("JWK set: %w", err)
	}
	var doc struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, nil, errors.New("JWK set: \"keys\" is not an array of objects")
	}
	if doc.Keys == nil {
		return nil, nil, nil, errors.New("JWK set: no \"keys\" member")
	}
	raws := *doc.Keys
	if len(raws) > MaxJWKSKeys {
		return nil, nil, nil, fmt.Errorf("JWK set: %d keys, more than %d", len(raws), MaxJWKSKeys)
	}
	kids := make([]string, len(raws))
	count := make(map[string]int, len(raws))
	for i, raw := range raws {
		var k struct {
			Kid string `json:"kid"`
		}
		if json.Unmarshal(raw, &k) != nil {
			return nil, nil, nil, fmt.Errorf("JWK set: key #%d is not an object with a string kid", i)
		}
		kids[i] = k.Kid
		count[k.Kid]++
	}
	var usable []*Key
	for i, raw := range raws {
		kid := kids[i]
		if kid != "" && count[kid] > 1 {
			skipped = append(skipped, fmt.Sprintf("key #%d: kid %q appears %d times; all are ignored", i, clip(kid), count[kid]))
			continue
		}
		var jwk jose.JSONWebKey
		if err := checkJSONObjectNames(raw, jwkNames); err != nil {
			skipped = append(skipped, fmt.Sprintf("key #%d (kid %q): %v", i, clip(kid), err))
			continue
		}
		if err := json.Unmarshal(raw, &jwk); err != nil {
			skipped = append(skipped, fmt.Sprintf("key #%d (kid %q): %v", i, clip(kid), err))
			continue
		}
		key, err := KeyFromJWK(jwk, "")
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("key #%d (kid %q): %s", i, clip(kid), detailOf(err)))
			continue
		}
		usable = append(usable, key)
	}
	byID = make(map[string]*Key, len(usable))
	for _, k := range usable {
		if k.ID == "" && len(usable) > 1 {
			skipped = append(skipped, "a key without kid in a set of several keys is ignored")
			continue
		}
		if k.ID != "" {
			byID[k.ID] = k
		}
	}
	if len(usable) == 1 {
		only = usable[0]
	}
	if len(byID) == 0 && only == nil {
		return nil, nil, skipped, fmt.Errorf("JWK set has no usable key (%d skipped)", len(skipped))
	}
	return byID, only, skipped, nil
}

// cacheTTL derives the cache lifetime from Cache-Control (RFC 9111 §5.2):
// max-age clamped to [lo, hi]; no-store or no-cache give lo; def otherwise.
func cacheTTL(h http.Header, lo, hi, def time.Duration) time.Duration {
	ttl := def
	for _, line := range h.Values("Cache-Control") {
		for _, d := range strings.Split(line, ",") {
			d = strings.ToLower(strings.TrimSpace(d))
			switch {
			case d == "no-store" || d == "no-cache":
				return lo
			case strings.HasPrefix(d, "max-age="):
				if secs, ok := parseSeconds(strings.Trim(d[len("max-age="):], `"`)); ok {
					ttl = clampSeconds(secs, hi)
				}
			}
		}
	}
	return min(max(ttl, lo), hi)
}

// parseSeconds parses delta-seconds; a value too large to represent
// saturates (RFC 9111 §1.2.2) and is then clamped to MaxTTL.
func parseSeconds(s string) (int64, bool) {
	n, err := strconv.ParseUint(s, 10, 63)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return math.MaxInt64, true
		}
		return 0, false
	}
	return int64(n), true
}

func clampSeconds(secs int64, hi time.Duration) time.Duration {
	if secs > int64(hi/time.Second) {
		return hi
	}
	return time.Duration(secs) * time.Second
}

// Start refreshes the set ahead of expiry (at 80 % of its TTL) until ctx
// ends, so requests never wait for a fetch and stale keys are needed only
// when the issuer is down; after a failed fetch it retries every
// RefetchCooldown. It blocks: run it with `go j.Start(ctx)`. A second
// Start while one runs returns at once.
func (j *JWKS) Start(ctx context.Context) {
	if !j.started.CompareAndSwap(false, true) {
		return
	}
	defer j.started.Store(false)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := j.refresh(ctx, true)
		t.Reset(j.nextRefresh(err))
	}
}

func (j *JWKS) nextRefresh(err error) time.Duration {
	s := j.snap.Load()
	if err != nil || s == nil {
		return j.cfg.RefetchCooldown
	}
	return max(s.expires.Sub(s.fetched)*4/5, time.Millisecond)
}

// JWKSStatus describes a JWKS cache for health checks and metrics.
type JWKSStatus struct {
	URL string
	// Fetched and Expires describe the current set (zero before the first
	// successful fetch); Keys counts its usable keys.
	Fetched, Expires time.Time
	Keys             int
	// Skipped describes the keys of the current set refused by the key
	// policy.
	Skipped []string
	// Stale is true when the set has expired (it is being served stale, or
	// not at all once StaleFor has passed).
	Stale bool
	// LastAttempt and LastError describe the last fetch attempt.
	LastAttempt time.Time
	LastError   error
}

// Status returns the cache's current state.
func (j *JWKS) Status() JWKSStatus {
	st := JWKSStatus{URL: j.cfg.URL}
	if last := j.lastAttempt.Load(); last != 0 {
		st.LastAttempt = time.Unix(0, last)
	}
	st.LastError = j.lastError()
	if s := j.snap.Load(); s != nil {
		st.Fetched, st.Expires = s.fetched, s.expires
		st.Keys = len(s.byID)
		if len(s.byID) == 0 && s.only != nil {
			st.Keys = 1
		}
		st.Skipped = append([]string(nil), s.skipped...)
		st.Stale = !j.cfg.Clock().Before(s.expires)
	}
	return st
}
