package jwtauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// memReplay is a minimal replay cache for these tests (the package's own
// implementations are tested in stores_test.go).
type memReplay struct {
	mu   sync.Mutex
	seen map[string]bool
	fail bool
}

func (m *memReplay) Seen(_ context.Context, jti string, _ time.Time) (bool, error) {
	if m.fail {
		return false, errTestDown
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[string]bool{}
	}
	if m.seen[jti] {
		return true, nil
	}
	m.seen[jti] = true
	return false, nil
}

const testHTU = "https://api.example.test/notes"

type dpopFixture struct {
	key   *ecdsa.PrivateKey
	jkt   string
	token string
}

func newDPoPFixture(t *testing.T) *dpopFixture {
	k := keys(t)
	pk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jkt, err := Thumbprint(&pk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	claims := with(goodClaims(), "cnf", map[string]any{"jkt": jkt})
	return &dpopFixture{key: pk, jkt: jkt, token: token(t, ES256, k.ec, "ec1", claims)}
}

// proof builds a DPoP proof; mods edit header and claims before signing.
func (f *dpopFixture) proof(t *testing.T, signer any, mods ...func(h, c map[string]any)) string {
	t.Helper()
	if signer == nil {
		signer = f.key
	}
	pub := jose.JSONWebKey{Key: &f.key.PublicKey}
	ath := sha256.Sum256([]byte(f.token))
	h := map[string]any{"typ": "dpop+jwt", "alg": ES256, "jwk": pub}
	c := map[string]any{"jti": "p-" + randHex(t), "htm": "GET", "htu": testHTU, "iat": testNow.Unix(), "ath": b64.EncodeToString(ath[:])}
	for _, m := range mods {
		m(h, c)
	}
	return compact(t, ES256, signer, mustJSON(t, h), mustJSON(t, c))
}

func randHex(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b64.EncodeToString(b)
}

func dpopVerifier(t *testing.T, replay ReplayCache) *Verifier {
	return testVerifier(t, func(c *Config) { c.DPoP = DPoPConfig{Replay: replay} })
}

func TestDPoP(t *testing.T) {
	f := newDPoPFixture(t)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ctx := context.Background()
	cases := []struct {
		name   string
		proof  func() string
		method string
		htu    string
		token  string
		reason Reason
	}{
		{"accept/valid", func() string { return f.proof(t, nil) }, "GET", testHTU, "", ""},
		{"accept/htu-normalized", func() string {
			return f.proof(t, nil, func(_, c map[string]any) { c["htu"] = "HTTPS://API.example.test:443/notes?x=1#f" })
		}, "GET", testHTU, "", ""},
		{"reject/wrong-htm", func() string { return f.proof(t, nil, func(_, c map[string]any) { c["htm"] = "POST" }) }, "GET", testHTU, "", ReasonDPoPMismatch},
		{"reject/wrong-htu-path", func() string {
			return f.proof(t, nil, func(_, c map[string]any) { c["htu"] = "https://api.example.test/admin" })
		}, "GET", testHTU, "", ReasonDPoPMismatch},
		{"reject/wrong-htu-host", func() string {
			return f.proof(t, nil, func(_, c map[string]any) { c["htu"] = "https://evil.example/notes" })
		}, "GET", testHTU, "", ReasonDPoPMismatch},
		{"reject/wrong-ath", func() string { return f.proof(t, nil, func(_, c map[string]any) { c["ath"] = "AAAA" }) }, "GET", testHTU, "", ReasonDPoPMismatch},
		{"reject/missing-ath", func() string { return f.proof(t, nil, func(_, c map[string]any) { delete(c, "ath") }) }, "GET", testHTU, "", ReasonDPoPMismatch},
		{"reject/stale-iat", func() string {
			return f.proof(t, nil, func(_, c map[string]any) { c["iat"] = testNow.Unix() - 300 })
		}, "GET", testHTU, "", ReasonDPoPStale},
		{"reject/future-iat", func() string {
			return f.proof(t, nil, func(_, c map[string]any) { c["iat"] = testNow.Unix() + 300 })
		}, "GET", testHTU, "", ReasonDPoPStale},
		{"reject/wrong-typ", func() string { return f.proof(t, nil, func(h, _ map[string]any) { h["typ"] = "jwt" }) }, "GET", testHTU, "", ReasonDPoPInvalid},
		{"reject/private-jwk", func() string {
			return f.proof(t, nil, func(h, _ map[string]any) { h["jwk"] = jose.JSONWebKey{Key: f.key} })
		}, "GET", testHTU, "", ReasonDPoPInvalid},
		{"reject/no-jwk", func() string { return f.proof(t, nil, func(h, _ map[string]any) { delete(h, "jwk") }) }, "GET", testHTU, "", ReasonDPoPInvalid},
		{"reject/hmac-proof", func() string {
			h := map[string]any{"typ": "dpop+jwt", "alg": HS256, "jwk": map[string]any{"kty": "oct", "k": "AAAA"}}
			return compact(t, HS256, []byte("secret"), mustJSON(t, h), mustJSON(t, map[string]any{"jti": "x", "htm": "GET", "htu": testHTU, "iat": testNow.Unix()}))
		}, "GET", testHTU, "", ReasonDPoPInvalid},
		{"reject/signed-by-other-key", func() string { return f.proof(t, other) }, "GET", testHTU, "", ReasonDPoPInvalid},
		{"reject/proof-key-not-token-key", func() string {
			// A valid proof by another key: the token is bound to f.key.
			g := &dpopFixture{key: other, token: f.token}
			return g.proof(t, nil)
		}, "GET", testHTU, "", ReasonDPoPMismatch},
		{"reject/missing-jti", func() string { return f.proof(t, nil, func(_, c map[string]any) { delete(c, "jti") }) }, "GET", testHTU, "", ReasonDPoPInvalid},
		{"reject/unbound-token", func() string { return f.proof(t, nil) }, "GET", testHTU, token(t, ES256, keys(t).ec, "ec1", goodClaims()), ReasonDPoPMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := dpopVerifier(t, &memReplay{})
			tok := f.token
			if tc.token != "" {
				tok = tc.token
			}
			_, err := v.VerifyDPoP(ctx, tok, tc.proof(), tc.method, tc.htu)
			if got := ReasonOf(err); got != tc.reason {
				t.Fatalf("reason %q (%v), want %q", got, err, tc.reason)
			}
		})
	}

	t.Run("reject/replay", func(t *testing.T) {
		v := dpopVerifier(t, &memReplay{})
		p := f.proof(t, nil)
		if _, err := v.VerifyDPoP(ctx, f.token, p, "GET", testHTU); err != nil {
			t.Fatal(err)
		}
		if _, err := v.VerifyDPoP(ctx, f.token, p, "GET", testHTU); ReasonOf(err) != ReasonDPoPReplay {
			t.Fatalf("replayed proof: %v", err)
		}
	})
	t.Run("reject/replay-cache-down", func(t *testing.T) {
		v := dpopVerifier(t, &memReplay{fail: true})
		if _, err := v.VerifyDPoP(ctx, f.token, f.proof(t, nil), "GET", testHTU); err == nil {
			t.Fatal("accepted with the replay cache down")
		}
	})
	t.Run("reject/bound-token-as-bearer", func(t *testing.T) {
		v := dpopVerifier(t, &memReplay{})
		if _, err := v.Verify(ctx, f.token); ReasonOf(err) != ReasonDPoPRequired {
			t.Fatalf("DPoP-bound token as Bearer: %v", err)
		}
	})
	t.Run("reject/nonce-required", func(t *testing.T) {
		v := testVerifier(t, func(c *Config) { c.DPoP = DPoPConfig{Replay: &memReplay{}, Nonces: fixedNonce("n-1")} })
		if _, err := v.VerifyDPoP(ctx, f.token, f.proof(t, nil), "GET", testHTU); ReasonOf(err) != ReasonDPoPNonce {
			t.Fatalf("no nonce: %v", err)
		}
		p := f.proof(t, nil, func(_, c map[string]any) { c["nonce"] = "n-1" })
		if _, err := v.VerifyDPoP(ctx, f.token, p, "GET", testHTU); err != nil {
			t.Fatalf("right nonce: %v", err)
		}
	})
}

type fixedNonce string

func (n fixedNonce) Current() string     { return string(n) }
func (n fixedNonce) Valid(s string) bool { return s == string(n) }

func TestMiddleware(t *testing.T) {
	f := newDPoPFixture(t)
	k := keys(t)
	bearer := token(t, ES256, k.ec, "ec1", goodClaims())
	var rejected []Reason
	v := testVerifier(t, func(c *Config) { c.DPoP = DPoPConfig{Replay: &memReplay{}} })
	h := Middleware(v, MiddlewareConfig{
		ExternalURL: "https://api.example.test", RequiredScopes: []string{"notes:read"},
		OnReject: func(_ *http.Request, err error) { rejected = append(rejected, ReasonOf(err)) },
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := ClaimsFrom(r.Context())
		if !ok {
			t.Error("no claims in context")
		}
		_, _ = w.Write([]byte(c.Subject))
	}))
	type req struct {
		auth   []string
		dpop   []string
		status int
		wwwHas string
	}
	cases := map[string]req{
		"accept/bearer":                  {[]string{"Bearer " + bearer}, nil, 200, ""},
		"accept/bearer-lowercase-scheme": {[]string{"bearer " + bearer}, nil, 200, ""},
		"accept/dpop":                    {[]string{"DPoP " + f.token}, []string{f.proof(t, nil)}, 200, ""},
		"reject/no-credentials":          {nil, nil, 401, `Bearer realm="api"`},
		"reject/garbage-token":           {[]string{"Bearer abc.def.ghi"}, nil, 401, `error="invalid_token"`},
		"reject/basic-scheme":            {[]string{"Basic dXNlcjpwYXNz"}, nil, 401, `error="invalid_token"`},
		"reject/two-authorization":       {[]string{"Bearer " + bearer, "Bearer " + bearer}, nil, 400, ""},
		"reject/bound-token-as-bearer":   {[]string{"Bearer " + f.token}, nil, 401, `error="invalid_token"`},
		"reject/bearer-with-proof":       {[]string{"Bearer " + bearer}, []string{f.proof(t, nil)}, 400, ""},
		"reject/dpop-two-proofs":         {[]string{"DPoP " + f.token}, []string{f.proof(t, nil), f.proof(t, nil)}, 401, `error="invalid_dpop_proof"`},
		"reject/dpop-no-proof":           {[]string{"DPoP " + f.token}, nil, 401, `error="invalid_dpop_proof"`},
		"reject/insufficient-scope":      {[]string{"Bearer " + token(t, ES256, k.ec, "ec1", with(goodClaims(), "scope", "other"))}, nil, 403, `error="insufficient_scope", scope="notes:read"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://internal-host:8080/notes", nil)
			r.Header.Set("X-Forwarded-Host", "evil.example") // must never influence htu
			for _, a := range tc.auth {
				r.Header.Add("Authorization", a)
			}
			for _, p := range tc.dpop {
				r.Header.Add("DPoP", p)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d; WWW-Authenticate %q", w.Code, tc.status, w.Header().Values("WWW-Authenticate"))
			}
			www := strings.Join(w.Header().Values("WWW-Authenticate"), " | ")
			if !strings.Contains(www, tc.wwwHas) {
				t.Fatalf("WWW-Authenticate %q lacks %q", www, tc.wwwHas)
			}
			body := w.Body.String()
			if tc.status != 200 && (strings.Contains(body, "jwtauth") || strings.Contains(body, bearer[:20]) || strings.Contains(www, "jwtauth")) {
				t.Fatalf("failure detail or token echoed: %q %q", body, www)
			}
		})
	}
	if len(rejected) == 0 {
		t.Fatal("OnReject never called")
	}
}
