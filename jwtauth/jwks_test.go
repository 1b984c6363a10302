package jwtauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/rampart-auth/rampart/internal/testkit"
)

// jwksKeys are this file's test keys, generated once (independent of the
// shared token helpers).
type jwksKeys struct {
	ec, ecOther *ecdsa.PrivateKey
	ed          ed25519.PrivateKey
	rsa         *rsa.PrivateKey
	rsaWeak     *rsa.PrivateKey
}

var jk = sync.OnceValue(func() *jwksKeys {
	var k jwksKeys
	var errs [5]error
	k.ec, errs[0] = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k.ecOther, errs[1] = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, k.ed, errs[2] = ed25519.GenerateKey(rand.Reader)
	k.rsa, errs[3] = rsa.GenerateKey(rand.Reader, 2048)
	k.rsaWeak, errs[4] = rsa.GenerateKey(rand.Reader, 1024) // #nosec G403 -- deliberately weak: the test proves it is refused.
	if err := errors.Join(errs[:]...); err != nil {
		panic(err)
	}
	return &k
})

// countObserver counts JWKS events.
type countObserver struct {
	NopObserver
	fetchOK, fetchErr, stale atomic.Int64
}

func (o *countObserver) JWKSFetched(_ string, err error) {
	if err != nil {
		o.fetchErr.Add(1)
	} else {
		o.fetchOK.Add(1)
	}
}

func (o *countObserver) JWKSStale(string) { o.stale.Add(1) }

// jwksIssuer is a real HTTP server on 127.0.0.1 serving a JWK set at /jwks.
type jwksIssuer struct {
	srv  *httptest.Server
	hits atomic.Int64

	mu           sync.Mutex
	status       int
	body         string
	cacheControl string
	delay        time.Duration
}

func newJWKSIssuer(t testing.TB, body string) *jwksIssuer {
	s := &jwksIssuer{status: http.StatusOK, body: body}
	mux := http.NewServeMux()
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		status, body, cc, delay := s.status, s.body, s.cacheControl, s.delay
		s.mu.Unlock()
		time.Sleep(delay)
		w.Header().Set("Content-Type", "application/jwk-set+json")
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *jwksIssuer) set(status int, body, cacheControl string) {
	s.mu.Lock()
	s.status, s.body, s.cacheControl = status, body, cacheControl
	s.mu.Unlock()
}

func (s *jwksIssuer) url() string { return s.srv.URL + "/jwks" }

// pubJWK marshals key as a JWK (public or private, as given).
func pubJWK(t testing.TB, key any, kid, alg, use string) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg, Use: use})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jwkSet(t testing.TB, keys ...json.RawMessage) string {
	t.Helper()
	if keys == nil {
		keys = []json.RawMessage{}
	}
	return string(mustJSON(t, map[string]any{"keys": keys}))
}

func newTestJWKS(t testing.TB, url string, clock *testkit.Clock, mod func(*JWKSConfig)) (*JWKS, *countObserver) {
	t.Helper()
	obs := &countObserver{}
	cfg := JWKSConfig{URL: url, Clock: clock.Now, Observer: obs}
	if mod != nil {
		mod(&cfg)
	}
	j, err := NewJWKS(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return j, obs
}

// wantUnknown / wantSourceErr classify Key errors.
func isUnknown(err error) bool { return errors.Is(err, ErrUnknownKey) }

func TestJWKSKeyPolicy(t *testing.T) {
	k := jk()
	ecA := pubJWK(t, k.ec.Public(), "a", ES256, "sig")
	// An EC point moved off the curve (invalid-curve attack).
	var offCurve map[string]any
	_ = json.Unmarshal(pubJWK(t, k.ecOther.Public(), "bad", ES256, ""), &offCurve)
	y, _ := b64.DecodeString(offCurve["y"].(string))
	y[len(y)-1] ^= 1
	offCurve["y"] = b64.EncodeToString(y)

	const (
		ok      = "ok"
		unknown = "unknown"
		fetch   = "fetch-error"
	)
	tests := []struct {
		name    string
		body    string
		kid     string
		want    string
		skipped int
	}{
		{"accept/ec-by-kid", jwkSet(t, ecA, pubJWK(t, k.ed.Public(), "e", EdDSA, "")), "a", ok, 0},
		{"accept/eddsa-by-kid", jwkSet(t, ecA, pubJWK(t, k.ed.Public(), "e", EdDSA, "")), "e", ok, 0},
		{"accept/rsa-2048", jwkSet(t, pubJWK(t, k.rsa.Public(), "r", RS256, "sig")), "r", ok, 0},
		{"accept/empty-kid-single-key", jwkSet(t, ecA), "", ok, 0},
		{"accept/kidless-single-key", jwkSet(t, pubJWK(t, k.ec.Public(), "", ES256, "")), "", ok, 0},
		{"accept/extra-members-ignored", `{"keys":[` + string(ecA) + `],"x-vendor":{"a":1}}`, "a", ok, 0},
		{"reject/unknown-kid", jwkSet(t, ecA), "zz", unknown, 0},
		{"reject/empty-kid-several-keys", jwkSet(t, ecA, pubJWK(t, k.ed.Public(), "e", EdDSA, "")), "", unknown, 0},
		{"reject/oct-key-in-jwks", jwkSet(t, ecA, pubJWK(t, []byte(strings.Repeat("s", 32)), "h", HS256, "sig")), "h", unknown, 1},
		{"reject/oct-key-empty-kid", jwkSet(t, pubJWK(t, []byte(strings.Repeat("s", 32)), "", HS256, "")), "", fetch, 1},
		{"reject/use-enc", jwkSet(t, ecA, pubJWK(t, k.ecOther.Public(), "enc", ES256, "enc")), "enc", unknown, 1},
		{"reject/rsa-1024", jwkSet(t, ecA, pubJWK(t, k.rsaWeak.Public(), "weak", RS256, "")), "weak", unknown, 1},
		{"reject/private-key-material", jwkSet(t, ecA, pubJWK(t, k.ecOther, "priv", ES256, "")), "priv", unknown, 1},
		{"reject/missing-alg", jwkSet(t, ecA, pubJWK(t, k.ecOther.Public(), "noalg", "", "")), "noalg", unknown, 1},
		{"reject/alg-key-mismatch", jwkSet(t, ecA, pubJWK(t, k.ed.Public(), "mix", ES256, "")), "mix", unknown, 1},
		{"reject/off-curve-ec", jwkSet(t, ecA, mustJSON(t, offCurve)), "bad", unknown, 1},
		{"reject/duplicate-kid", jwkSet(t, ecA, pubJWK(t, k.ecOther.Public(), "d", ES256, ""), pubJWK(t, k.ed.Public(), "d", EdDSA, "")), "d", unknown, 2},
		{"reject/kidless-in-several", jwkSet(t, ecA, pubJWK(t, k.ecOther.Public(), "", ES256, "")), "", unknown, 1},
		{"reject/unknown-kty", jwkSet(t, ecA, json.RawMessage(`{"kty":"XYZ","kid":"x","alg":"ES256"}`)), "x", unknown, 1},
		{"reject/only-oct-keys", jwkSet(t, pubJWK(t, []byte(strings.Repeat("s", 32)), "h", HS256, "")), "h", fetch, 1},
		{"reject/empty-set", jwkSet(t), "a", fetch, 0},
		{"reject/no-keys-member", `{"kids":[]}`, "a", fetch, 0},
		{"reject/keys-not-array", `{"keys":{}}`, "a", fetch, 0},
		{"reject/not-an-object", `[` + string(ecA) + `]`, "a", fetch, 0},
		{"reject/duplicate-member", `{"keys":[],"keys":[` + string(ecA) + `]}`, "a", fetch, 0},
		{"reject/duplicate-member-in-key", `{"keys":[{"kty":"EC","kid":"a","kid":"b"}]}`, "a", fetch, 0},
		{"reject/trailing-data", jwkSet(t, ecA) + `{}`, "a", fetch, 0},
		{"reject/not-json", `keys`, "a", fetch, 0},
		{"reject/too-many-keys", jwkSet(t, manyKeys(t, MaxJWKSKeys+1)...), "a", fetch, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			iss := newJWKSIssuer(t, tc.body)
			j, _ := newTestJWKS(t, iss.url(), testkit.NewClock(testNow), nil)
			key, err := j.Key(context.Background(), tc.kid)
			switch tc.want {
			case ok:
				if err != nil || key == nil {
					t.Fatalf("Key(%q) = %v, %v; want a key", tc.kid, key, err)
				}
				if key.IsSymmetric() {
					t.Fatal("an HMAC key came out of a JWKS")
				}
			case unknown:
				if !isUnknown(err) {
					t.Fatalf("Key(%q) = %v, %v; want ErrUnknownKey", tc.kid, key, err)
				}
			case fetch:
				if err == nil || isUnknown(err) {
					t.Fatalf("Key(%q) = %v, %v; want a key-source error", tc.kid, key, err)
				}
			}
			if tc.want != fetch {
				if got := len(j.Status().Skipped); got != tc.skipped {
					t.Errorf("skipped %d keys (%q), want %d", got, j.Status().Skipped, tc.skipped)
				}
			}
		})
	}
}

func manyKeys(t testing.TB, n int) []json.RawMessage {
	one := pubJWK(t, jk().ec.Public(), "", ES256, "")
	out := make([]json.RawMessage, n)
	for i := range out {
		var m map[string]any
		_ = json.Unmarshal(one, &m)
		m["kid"] = fmt.Sprintf("k%d", i)
		out[i] = mustJSON(t, m)
	}
	return out
}

// TestJWKSNeverYieldsHMACKey verifies end to end that a JWKS offering an
// oct key cannot be used to verify an HS256 token (RFC 8725 §3.2).
func TestJWKSNeverYieldsHMACKey(t *testing.T) {
	k := jk()
	secret := []byte(strings.Repeat("s", 32))
	iss := newJWKSIssuer(t, jwkSet(t, pubJWK(t, k.ec.Public(), "a", ES256, ""), pubJWK(t, secret, "h", HS256, "")))
	j, _ := newTestJWKS(t, iss.url(), testkit.NewClock(testNow), nil)
	v, err := New(Config{Issuer: testIssuer, Audiences: []string{testAudience}, Keys: j, Clock: fixedClock,
		Algorithms: []string{ES256, HS256}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), token(t, ES256, k.ec, "a", goodClaims())); err != nil {
		t.Fatalf("ES256 token from the JWKS key: %v", err)
	}
	_, err = v.Verify(context.Background(), token(t, HS256, secret, "h", goodClaims()))
	if err == nil {
		t.Fatal("HS256 token verified with an oct key from a JWKS")
	}
}

func TestJWKSRotation(t *testing.T) {
	k := jk()
	clock := testkit.NewClock(testNow)
	iss := newJWKSIssuer(t, jwkSet(t, pubJWK(t, k.ec.Public(), "old", ES256, "")))
	j, _ := newTestJWKS(t, iss.url(), clock, nil)
	ctx := context.Background()
	if _, err := j.Key(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	// Rotation: the issuer publishes a new key next to the old, then drops the old.
	iss.set(http.StatusOK, jwkSet(t, pubJWK(t, k.ec.Public(), "old", ES256, ""), pubJWK(t, k.ed.Public(), "new", EdDSA, "")), "")
	clock.Add(DefaultJWKSRefetchCooldown)
	key, err := j.Key(ctx, "new")
	if err != nil || key.Algorithm != EdDSA {
		t.Fatalf("new kid after rotation: %v, %v", key, err)
	}
	if got := iss.hits.Load(); got != 2 {
		t.Fatalf("issuer hit %d times, want 2 (initial + one refetch for the new kid)", got)
	}
	iss.set(http.StatusOK, jwkSet(t, pubJWK(t, k.ed.Public(), "new", EdDSA, "")), "max-age=60")
	if err := j.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Key(ctx, "old"); !isUnknown(err) {
		t.Fatalf("removed kid: %v, want ErrUnknownKey", err)
	}
	if _, err := j.Key(ctx, "new"); err != nil {
		t.Fatal(err)
	}
	// The set expires after max-age and the next Key refetches it.
	before := iss.hits.Load()
	clock.Add(61 * time.Second)
	if _, err := j.Key(ctx, "new"); err != nil {
		t.Fatal(err)
	}
	if iss.hits.Load() != before+1 {
		t.Fatalf("expired set not refetched: hits %d → %d", before, iss.hits.Load())
	}
}

// TestJWKSRotationConcurrent: when many requests carry a new kid at once,
// all of them wait for the one shared refetch and succeed.
func TestJWKSRotationConcurrent(t *testing.T) {
	k := jk()
	clock := testkit.NewClock(testNow)
	iss := newJWKSIssuer(t, jwkSet(t, pubJWK(t, k.ec.Public(), "old", ES256, "")))
	iss.delay = 30 * time.Millisecond
	j, _ := newTestJWKS(t, iss.url(), clock, nil)
	if err := j.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	iss.set(http.StatusOK, jwkSet(t, pubJWK(t, k.ec.Public(), "old", ES256, ""), pubJWK(t, k.ed.Public(), "new", EdDSA, "")), "")
	clock.Add(DefaultJWKSRefetchCooldown)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 100 {
		wg.Go(func() {
			if _, err := j.Key(context.Background(), "new"); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 || iss.hits.Load() != 2 {
		t.Fatalf("%d of 100 requests failed, %d fetches; want 0 and 2", failed.Load(), iss.hits.Load())
	}
}

func TestJWKSCacheControl(t *testing.T) {
	set := jwkSet(t, pubJWK(t, jk().ec.Public(), "a", ES256, ""))
	tests := []struct {
		name, header string
		want         time.Duration
	}{
		{"accept/max-age", "max-age=600", 10 * time.Minute},
		{"accept/max-age-with-other-directives", "public, max-age=120, must-revalidate", 2 * time.Minute},
		{"accept/quoted-max-age", `max-age="300"`, 5 * time.Minute},
		{"default/no-header", "", DefaultJWKSTTL},
		{"default/garbage-max-age", "max-age=soon", DefaultJWKSTTL},
		{"default/negative-max-age", "max-age=-5", DefaultJWKSTTL},
		{"clamp/below-min", "max-age=5", DefaultJWKSMinTTL},
		{"clamp/zero", "max-age=0", DefaultJWKSMinTTL},
		{"clamp/above-max", "max-age=31536000", DefaultJWKSMaxTTL},
		{"clamp/overflow", "max-age=99999999999999999999999999", DefaultJWKSMaxTTL},
		{"clamp/no-store", "no-store", DefaultJWKSMinTTL},
		{"clamp/no-cache-wins", "max-age=600, no-cache", DefaultJWKSMinTTL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			iss := newJWKSIssuer(t, set)
			iss.set(http.StatusOK, set, tc.header)
			clock := testkit.NewClock(testNow)
			j, _ := newTestJWKS(t, iss.url(), clock, nil)
			if err := j.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			st := j.Status()
			if got := st.Expires.Sub(st.Fetched); got != tc.want {
				t.Fatalf("TTL %s, want %s", got, tc.want)
			}
			// Just before expiry: served from cache; at expiry: refetched.
			clock.Add(tc.want - time.Second)
			_, _ = j.Key(context.Background(), "a")
			if iss.hits.Load() != 1 {
				t.Fatalf("refetched before expiry")
			}
			clock.Add(time.Second)
			_, _ = j.Key(context.Background(), "a")
			if iss.hits.Load() != 2 {
				t.Fatalf("not refetched at expiry")
			}
		})
	}
	t.Run("custom-bounds", func(t *testing.T) {
		iss := newJWKSIssuer(t, set)
		iss.set(http.StatusOK, set, "max-age=86400")
		j, _ := newTestJWKS(t, iss.url(), testkit.NewClock(testNow), func(c *JWKSConfig) {
			c.MinTTL, c.MaxTTL, c.DefaultTTL = time.Second, time.Hour, time.Minute
		})
		if err := j.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if st := j.Status(); st.Expires.Sub(st.Fetched) != time.Hour {
			t.Fatalf("TTL %s, want 1h", st.Expires.Sub(st.Fetched))
		}
	})
}

// TestJWKSIssuerDown: the issuer fails in various ways; the last good keys
// are served for StaleFor past expiry (reported as stale), then Key fails
// closed with an error that is not ErrUnknownKey; fetches while down are
// limited to one per cool-down; the cache recovers when the issuer does.
func TestJWKSIssuerDown(t *testing.T) {
	good := jwkSet(t, pubJWK(t, jk().ec.Public(), "a", ES256, ""))
	tests := []struct {
		name string
		down func(iss *jwksIssuer)
	}{
		{"down/503", func(iss *jwksIssuer) { iss.set(http.StatusServiceUnavailable, "busy", "") }},
		{"down/404", func(iss *jwksIssuer) { iss.set(http.StatusNotFound, "", "") }},
		{"down/bad-json", func(iss *jwksIssuer) { iss.set(http.StatusOK, `{"keys":[`, "max-age=60") }},
		{"down/no-usable-key", func(iss *jwksIssuer) {
			iss.set(http.StatusOK, jwkSet(t, pubJWK(t, []byte(strings.Repeat("s", 32)), "a", HS256, "")), "max-age=60")
		}},
		{"down/oversize", func(iss *jwksIssuer) {
			iss.set(http.StatusOK, `{"keys":[],"pad":"`+strings.Repeat("x", DefaultJWKSMaxBodyBytes)+`"}`, "")
		}},
		{"down/connection-refused", func(iss *jwksIssuer) { iss.srv.Close() }},
	}
	const staleFor = 10 * time.Minute
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			clock := testkit.NewClock(testNow)
			iss := newJWKSIssuer(t, good)
			iss.set(http.StatusOK, good, "max-age=60")
			j, obs := newTestJWKS(t, iss.url(), clock, func(c *JWKSConfig) { c.StaleFor = staleFor })
			if _, err := j.Key(ctx, "a"); err != nil {
				t.Fatal(err)
			}
			tc.down(iss)
			clock.Add(2 * time.Minute) // expired
			if _, err := j.Key(ctx, "a"); err != nil {
				t.Fatalf("stale key not served: %v", err)
			}
			if obs.stale.Load() == 0 || obs.fetchErr.Load() != 1 {
				t.Fatalf("stale %d, fetch errors %d; want stale reported and one failed fetch", obs.stale.Load(), obs.fetchErr.Load())
			}
			if !j.Status().Stale || j.Status().LastError == nil {
				t.Fatalf("status %+v: want stale with an error", j.Status())
			}
			// Within the cool-down, no more fetches however many requests.
			for range 50 {
				if _, err := j.Key(ctx, "a"); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := j.Key(ctx, "unknown"); !isUnknown(err) {
				t.Fatalf("unknown kid while stale: %v", err)
			}
			if obs.fetchErr.Load() != 1 {
				t.Fatalf("%d failed fetches within one cool-down, want 1", obs.fetchErr.Load())
			}
			// Past expiry + StaleFor: fail closed.
			clock.Add(staleFor)
			_, err := j.Key(ctx, "a")
			if err == nil || isUnknown(err) {
				t.Fatalf("after StaleFor: %v; want a key-source error", err)
			}
			if ReasonOf(err) != "" && ReasonOf(err) == ReasonUnknownKey {
				t.Fatalf("fail-closed error classified as unknown key")
			}
			if tc.name == "down/connection-refused" {
				return
			}
			// Recovery.
			iss.set(http.StatusOK, good, "max-age=60")
			clock.Add(DefaultJWKSRefetchCooldown)
			if _, err := j.Key(ctx, "a"); err != nil {
				t.Fatalf("after recovery: %v", err)
			}
		})
	}
}

func TestJWKSFirstFetchFails(t *testing.T) {
	clock := testkit.NewClock(testNow)
	iss := newJWKSIssuer(t, "")
	iss.set(http.StatusInternalServerError, "", "")
	j, _ := newTestJWKS(t, iss.url(), clock, nil)
	for range 20 {
		_, err := j.Key(context.Background(), "a")
		if err == nil || isUnknown(err) {
			t.Fatalf("Key = %v; want a key-source error", err)
		}
	}
	if iss.hits.Load() != 1 {
		t.Fatalf("issuer hit %d times while failing, want 1 per cool-down", iss.hits.Load())
	}
	iss.set(http.StatusOK, jwkSet(t, pubJWK(t, jk().ec.Public(), "a", ES256, "")), "")
	clock.Add(DefaultJWKSRefetchCooldown)
	if _, err := j.Key(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
}

// TestJWKSJunkKidFlood: 200 concurrent requests with distinct random kids
// cause at most one fetch per cool-down.
func TestJWKSJunkKidFlood(t *testing.T) {
	clock := testkit.NewClock(testNow)
	iss := newJWKSIssuer(t, jwkSet(t, pubJWK(t, jk().ec.Public(), "a", ES256, "")))
	iss.delay = 20 * time.Millisecond // keep the refetch in flight while the flood arrives
	j, _ := newTestJWKS(t, iss.url(), clock, nil)
	if err := j.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	flood := func() {
		var wg sync.WaitGroup
		for range 200 {
			wg.Go(func() {
				var b [16]byte
				_, _ = rand.Read(b[:])
				if _, err := j.Key(context.Background(), hex.EncodeToString(b[:])); !isUnknown(err) {
					t.Errorf("junk kid: %v, want ErrUnknownKey", err)
				}
			})
		}
		wg.Wait()
	}
	for period := range 3 {
		flood()
		flood()
		if got, limit := iss.hits.Load(), int64(1+period); got > limit {
			t.Fatalf("period %d: issuer hit %d times, want ≤ %d (one per cool-down)", period, got, limit)
		}
		if _, err := j.Key(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
		clock.Add(DefaultJWKSRefetchCooldown)
	}
}

func TestJWKSRedirects(t *testing.T) {
	set := jwkSet(t, pubJWK(t, jk().ec.Public(), "a", ES256, ""))
	other := newJWKSIssuer(t, set) // another origin (other port) serving a valid set
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(set))
	}))
	t.Cleanup(tlsSrv.Close)

	var self string
	mux := http.NewServeMux()
	mux.HandleFunc("/same", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/keys", http.StatusFound)
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(set)) })
	mux.HandleFunc("/other-host", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.url(), http.StatusFound)
	})
	mux.HandleFunc("/localhost-alias", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, strings.Replace(self, "127.0.0.1", "localhost", 1)+"/keys", http.StatusFound)
	})
	mux.HandleFunc("/other-scheme", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, tlsSrv.URL, http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	self = srv.URL

	tests := []struct {
		name, path string
		ok         bool
	}{
		{"accept/same-host-redirect", "/same", true},
		{"reject/redirect-other-host", "/other-host", false},
		{"reject/redirect-host-alias", "/localhost-alias", false},
		{"reject/redirect-other-scheme", "/other-scheme", false},
		{"reject/too-many-redirects", "/loop", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A caller-supplied client that trusts the TLS server and would
			// follow any redirect: the JWKS must still enforce its policy.
			client := tlsSrv.Client()
			j, _ := newTestJWKS(t, srv.URL+tc.path, testkit.NewClock(testNow), func(c *JWKSConfig) { c.HTTPClient = client })
			_, err := j.Key(context.Background(), "a")
			if tc.ok != (err == nil) {
				t.Fatalf("Key: %v, want ok=%v", err, tc.ok)
			}
			if client.CheckRedirect != nil {
				t.Fatal("caller's client was modified")
			}
		})
	}
	if other.hits.Load() != 0 {
		t.Fatalf("the other host was contacted %d times", other.hits.Load())
	}
}

func TestNewJWKSConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  JWKSConfig
		ok   bool
	}{
		{"accept/https", JWKSConfig{URL: "https://auth.example.com/jwks"}, true},
		{"accept/http-loopback-ipv4", JWKSConfig{URL: "http://127.0.0.1:8080/jwks"}, true},
		{"accept/http-loopback-ipv4-range", JWKSConfig{URL: "http://127.8.9.10/jwks"}, true},
		{"accept/http-loopback-ipv6", JWKSConfig{URL: "http://[::1]:8080/jwks"}, true},
		{"accept/http-localhost", JWKSConfig{URL: "http://LocalHost:8080/jwks"}, true},
		{"reject/http-non-loopback", JWKSConfig{URL: "http://auth.example.com/jwks"}, false},
		{"reject/http-localhost-suffix", JWKSConfig{URL: "http://localhost.evil.example/jwks"}, false},
		{"reject/http-private-ip", JWKSConfig{URL: "http://10.0.0.1/jwks"}, false},
		{"reject/http-unspecified", JWKSConfig{URL: "http://0.0.0.0/jwks"}, false},
		{"reject/ftp", JWKSConfig{URL: "ftp://auth.example.com/jwks"}, false},
		{"reject/file", JWKSConfig{URL: "file:///etc/jwks.json"}, false},
		{"reject/relative", JWKSConfig{URL: "/jwks"}, false},
		{"reject/empty", JWKSConfig{}, false},
		{"reject/credentials", JWKSConfig{URL: "https://user:pass@auth.example.com/jwks"}, false},
		{"reject/min-ttl-above-max", JWKSConfig{URL: "https://a.example/jwks", MinTTL: time.Hour, MaxTTL: time.Minute}, false},
		{"reject/default-ttl-outside", JWKSConfig{URL: "https://a.example/jwks", DefaultTTL: 48 * time.Hour}, false},
		{"reject/negative-stale", JWKSConfig{URL: "https://a.example/jwks", StaleFor: -1}, false},
		{"reject/negative-body", JWKSConfig{URL: "https://a.example/jwks", MaxBodyBytes: -1}, false},
		{"reject/cooldown-above-min-ttl", JWKSConfig{URL: "https://a.example/jwks", RefetchCooldown: 2 * time.Minute}, false},
		{"accept/short-min-ttl-shortens-default-cooldown", JWKSConfig{URL: "https://a.example/jwks", MinTTL: time.Second, DefaultTTL: time.Second}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewJWKS(tc.cfg)
			if tc.ok != (err == nil) {
				t.Fatalf("NewJWKS: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestJWKSLazy(t *testing.T) {
	iss := newJWKSIssuer(t, jwkSet(t, pubJWK(t, jk().ec.Public(), "a", ES256, "")))
	j, _ := newTestJWKS(t, iss.url(), testkit.NewClock(testNow), nil)
	if iss.hits.Load() != 0 {
		t.Fatal("NewJWKS fetched")
	}
	if _, err := j.Key(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	if iss.hits.Load() != 1 {
		t.Fatalf("hits %d, want 1", iss.hits.Load())
	}
}

func TestJWKSOversizeBody(t *testing.T) {
	k := jk()
	set := jwkSet(t, pubJWK(t, k.ec.Public(), "a", ES256, ""), pubJWK(t, k.rsa.Public(), "r", RS256, ""))
	iss := newJWKSIssuer(t, set)
	j, _ := newTestJWKS(t, iss.url(), testkit.NewClock(testNow), func(c *JWKSConfig) { c.MaxBodyBytes = int64(len(set) - 1) })
	_, err := j.Key(context.Background(), "a")
	if err == nil || isUnknown(err) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("oversize body: %v", err)
	}
	j2, _ := newTestJWKS(t, iss.url(), testkit.NewClock(testNow), func(c *JWKSConfig) { c.MaxBodyBytes = int64(len(set)) })
	if _, err := j2.Key(context.Background(), "a"); err != nil {
		t.Fatalf("body of exactly the limit: %v", err)
	}
}

// TestJWKSCallerCancel: a caller whose context ends stops waiting, but the
// shared fetch completes for the others.
func TestJWKSCallerCancel(t *testing.T) {
	iss := newJWKSIssuer(t, jwkSet(t, pubJWK(t, jk().ec.Public(), "a", ES256, "")))
	iss.delay = 100 * time.Millisecond
	j, _ := newTestJWKS(t, iss.url(), testkit.NewClock(testNow), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := j.Key(context.Background(), "a"); err != nil {
			t.Errorf("patient caller: %v", err)
		}
	})
	if _, err := j.Key(ctx, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("impatient caller: %v, want deadline exceeded", err)
	}
	wg.Wait()
	if iss.hits.Load() != 1 {
		t.Fatalf("hits %d, want 1 shared fetch", iss.hits.Load())
	}
}

// TestJWKSStart: the background loop refreshes ahead of expiry, so the set
// never expires while the issuer is up.
func TestJWKSStart(t *testing.T) {
	iss := newJWKSIssuer(t, jwkSet(t, pubJWK(t, jk().ec.Public(), "a", ES256, "")))
	j, err := NewJWKS(JWKSConfig{URL: iss.url(), MinTTL: 50 * time.Millisecond, DefaultTTL: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { j.Start(ctx); close(done) }()
	for iss.hits.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	second := make(chan struct{})
	go func() { j.Start(ctx); close(second) }()
	select {
	case <-second: // a second Start returns at once
	case <-time.After(2 * time.Second):
		t.Fatal("a second Start ran another loop")
	}
	deadline := time.Now().Add(5 * time.Second)
	for iss.hits.Load() < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d fetches in 5 s with a 100 ms TTL", iss.hits.Load())
		}
		if st := j.Status(); !st.Fetched.IsZero() && st.Stale {
			t.Fatalf("set expired although the loop refreshes at 80%% of the TTL: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Start did not return after ctx ended")
	}
	n := iss.hits.Load()
	time.Sleep(250 * time.Millisecond)
	if iss.hits.Load() != n {
		t.Fatal("loop kept running after ctx ended")
	}
}

func TestParseSeconds(t *testing.T) {
	if n, ok := parseSeconds(big.NewInt(0).Lsh(big.NewInt(1), 70).String()); !ok || n <= 0 {
		t.Fatalf("overflow: %d %v", n, ok)
	}
	for _, bad := range []string{"", "+5", "-5", "5s", "0x10", "1_0"} {
		if _, ok := parseSeconds(bad); ok {
			t.Errorf("parseSeconds(%q) accepted", bad)
		}
	}
}

func BenchmarkJWKSKeyHit(b *testing.B) {
	k := jk()
	iss := newJWKSIssuer(b, jwkSet(b, pubJWK(b, k.ec.Public(), "a", ES256, ""), pubJWK(b, k.ed.Public(), "e", EdDSA, "")))
	j, err := NewJWKS(JWKSConfig{URL: iss.url()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := j.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := j.Key(ctx, "e"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJWKSKeyHitParallel measures contention on the lock-free path.
func BenchmarkJWKSKeyHitParallel(b *testing.B) {
	iss := newJWKSIssuer(b, jwkSet(b, pubJWK(b, jk().ec.Public(), "a", ES256, "")))
	j, err := NewJWKS(JWKSConfig{URL: iss.url()})
	if err != nil {
		b.Fatal(err)
	}
	if err := j.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := j.Key(context.Background(), "a"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkStaticKeysHit is the baseline: a plain map lookup.
func BenchmarkStaticKeysHit(b *testing.B) {
	key, err := NewKey("a", ES256, jk().ec.Public())
	if err != nil {
		b.Fatal(err)
	}
	s, _ := NewStaticKeys(key)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Key(context.Background(), "a"); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzParseJWKS: the set parser never panics, never yields an HMAC key,
// and indexes every key under its own kid.
func FuzzParseJWKS(f *testing.F) {
	k := jk()
	f.Add([]byte(jwkSet(f, pubJWK(f, k.ec.Public(), "a", ES256, ""), pubJWK(f, k.ed.Public(), "e", EdDSA, ""))))
	f.Add([]byte(jwkSet(f, pubJWK(f, k.rsa.Public(), "", RS256, "sig"))))
	f.Add([]byte(jwkSet(f, pubJWK(f, []byte(strings.Repeat("s", 32)), "h", HS256, ""))))
	f.Add([]byte(`{"keys":[{"kty":"EC","kid":"a","kid":"b"}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		byID, only, _, err := parseJWKS(body)
		if err != nil {
			if byID != nil || only != nil {
				t.Fatal("keys returned with an error")
			}
			return
		}
		for kid, key := range byID {
			if key.IsSymmetric() || key.ID != kid || kid == "" {
				t.Fatalf("bad entry %q → %+v", kid, key)
			}
		}
		if only != nil && (only.IsSymmetric() || len(byID) > 1) {
			t.Fatal("bad single key")
		}
	})
}

// BenchmarkJWKSKeyUnknownCoolingDown is the cost of one junk kid during a
// flood: no fetch, no lock, no allocation.
func BenchmarkJWKSKeyUnknownCoolingDown(b *testing.B) {
	iss := newJWKSIssuer(b, jwkSet(b, pubJWK(b, jk().ec.Public(), "a", ES256, "")))
	j, err := NewJWKS(JWKSConfig{URL: iss.url()})
	if err != nil {
		b.Fatal(err)
	}
	if err := j.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := j.Key(context.Background(), "junk"); err != ErrUnknownKey {
			b.Fatal(err)
		}
	}
	if iss.hits.Load() != 1 {
		b.Fatalf("%d fetches", iss.hits.Load())
	}
}
