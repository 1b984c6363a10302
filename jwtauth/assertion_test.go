package jwtauth

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// assertionClaimsAt are valid assertion claims issued at Now.
func assertionClaimsAt() map[string]any {
	return map[string]any{
		"iss": testIss, "aud": testAud, "sub": "user-1", "client_id": "web",
		"scope": "notes:read", "route": "notes-read", "rid": "req-1",
		"iat": testNow.Unix(), "exp": testNow.Unix() + 30, "jti": "jti-a",
	}
}

func assertionHeader(kv ...any) map[string]any {
	return with(with(hdrMap(ES256, "ec1"), "typ", AssertionType), kv...)
}

// signAssertion signs claims with the battery's ES256 key "ec1".
func signAssertion(t testing.TB, hdr, claims map[string]any) string {
	t.Helper()
	return compact(t, ES256, keys(t).ec, mustJSON(t, hdr), mustJSON(t, claims))
}

func testAssertionVerifier(t testing.TB, mod func(*AssertionConfig)) (*AssertionVerifier, *MemoryReplayCache) {
	t.Helper()
	src := testVerifier(t, nil).cfg.Keys
	rc := NewMemoryReplayCache(fixedClock, 0)
	cfg := AssertionConfig{Issuer: testIss, Keys: src, Audience: testAud, Replay: rc, Clock: fixedClock}
	if mod != nil {
		mod(&cfg)
	}
	av, err := NewAssertionVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return av, rc
}

func TestVerifyAssertion(t *testing.T) {
	av, _ := testAssertionVerifier(t, nil)
	tok := signAssertion(t, assertionHeader(), assertionClaimsAt())
	a, err := av.VerifyAssertion(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	want := Assertion{Issuer: testIss, Audience: testAud, Subject: "user-1", ClientID: "web", Scope: "notes:read",
		Route: "notes-read", RequestID: "req-1", ID: "jti-a", IssuedAt: testNow, ExpiresAt: testNow.Add(30 * time.Second)}
	if got := a.Scopes(); len(got) != 1 || got[0] != "notes:read" || !a.HasScope("notes:read") || a.HasScope("notes") {
		t.Fatalf("scopes = %q", got)
	}
	a.scopes = nil
	if !reflect.DeepEqual(*a, want) {
		t.Fatalf("assertion = %+v\nwant %+v", *a, want)
	}
	// The same token a second time is a replay.
	if _, err := av.VerifyAssertion(context.Background(), tok); ReasonOf(err) != ReasonAssertionReplay {
		t.Fatalf("replay: err = %v, want %s", err, ReasonAssertionReplay)
	}
}

func TestVerifyAssertionNoUser(t *testing.T) {
	av, _ := testAssertionVerifier(t, nil)
	tok := signAssertion(t, assertionHeader(), with(assertionClaimsAt(), "sub", nil, "client_id", nil, "scope", nil))
	a, err := av.VerifyAssertion(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if a.Subject != "" || a.ClientID != "" || len(a.Scopes()) != 0 || a.HasScope("notes:read") {
		t.Fatalf("auth: none assertion = %+v, want no identity", a)
	}
}

func TestVerifyAssertionRejects(t *testing.T) {
	c := assertionClaimsAt()
	now := testNow.Unix()
	k := keys(t)
	der, err := x509.MarshalPKIXPublicKey(&k.ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		token  string
		reason Reason
	}{
		{"reject/retargeted-aud", signAssertion(t, assertionHeader(), with(c, "aud", "https://other.example.test")), ReasonAudience},
		{"reject/aud-port-differs", signAssertion(t, assertionHeader(), with(c, "aud", testAud+":8443")), ReasonAudience},
		{"reject/aud-two-values", signAssertion(t, assertionHeader(), with(c, "aud", []string{testAud, "https://other.example.test"})), ReasonAudience},
		{"reject/access-token-typ", signAssertion(t, assertionHeader("typ", "at+jwt"), c), ReasonType},
		{"reject/id-token-typ", signAssertion(t, assertionHeader("typ", "JWT"), c), ReasonType},
		{"reject/dpop-typ", signAssertion(t, assertionHeader("typ", "dpop+jwt"), c), ReasonType},
		{"reject/no-typ", signAssertion(t, assertionHeader("typ", nil), c), ReasonType},
		{"reject/expired", signAssertion(t, assertionHeader(), with(c, "iat", now-60, "exp", now-6)), ReasonExpired},
		{"reject/lifetime-61s", signAssertion(t, assertionHeader(), with(c, "iat", now, "exp", now+61)), ReasonBadClaim},
		{"reject/lifetime-1h", signAssertion(t, assertionHeader(), with(c, "exp", now+3600)), ReasonBadClaim},
		{"reject/exp-before-iat", signAssertion(t, assertionHeader(), with(c, "iat", now+2, "exp", now+1)), ReasonBadClaim},
		{"reject/issued-in-future", signAssertion(t, assertionHeader(), with(c, "iat", now+20, "exp", now+40)), ReasonIssuedInFuture},
		{"reject/missing-iat", signAssertion(t, assertionHeader(), with(c, "iat", nil)), ReasonMissingClaim},
		{"reject/missing-exp", signAssertion(t, assertionHeader(), with(c, "exp", nil)), ReasonMissingClaim},
		{"reject/missing-jti", signAssertion(t, assertionHeader(), with(c, "jti", nil)), ReasonMissingClaim},
		{"reject/empty-jti", signAssertion(t, assertionHeader(), with(c, "jti", "")), ReasonBadClaim},
		{"reject/long-jti", signAssertion(t, assertionHeader(), with(c, "jti", strings.Repeat("j", 257))), ReasonBadClaim},
		{"reject/missing-route", signAssertion(t, assertionHeader(), with(c, "route", nil)), ReasonMissingClaim},
		{"reject/empty-route", signAssertion(t, assertionHeader(), with(c, "route", "")), ReasonMissingClaim},
		{"reject/missing-rid", signAssertion(t, assertionHeader(), with(c, "rid", nil)), ReasonMissingClaim},
		{"reject/route-number", signAssertion(t, assertionHeader(), with(c, "route", 7)), ReasonBadClaim},
		{"reject/empty-sub", signAssertion(t, assertionHeader(), with(c, "sub", "")), ReasonBadClaim},
		{"reject/empty-client-id", signAssertion(t, assertionHeader(), with(c, "client_id", "")), ReasonBadClaim},
		{"reject/wrong-iss", signAssertion(t, assertionHeader(), with(c, "iss", "https://evil.example")), ReasonIssuer},
		{"reject/missing-iss", signAssertion(t, assertionHeader(), with(c, "iss", nil)), ReasonMissingClaim},
		{"reject/cnf", signAssertion(t, assertionHeader(), with(c, "cnf", map[string]any{"jkt": "x"})), ReasonBadClaim},
		{"reject/case-folded-route", compact(t, ES256, k.ec, mustJSON(t, assertionHeader()),
			[]byte(strings.Replace(string(mustJSON(t, c)), `"route"`, `"ROUTE":"admin","route"`, 1))), ReasonMalformed},
		{"reject/over-4kib", signAssertion(t, assertionHeader(), with(c, "pad", strings.Repeat("x", MaxAssertionSize))), ReasonTooLarge},
		{"reject/alg-none", b64.EncodeToString(mustJSON(t, assertionHeader("alg", "none"))) + "." + b64.EncodeToString(mustJSON(t, c)) + ".", ReasonAlgNotAllowed},
		{"reject/hs256-keyed-with-public-key", compact(t, HS256, der, mustJSON(t, assertionHeader("alg", HS256)), mustJSON(t, c)), ReasonAlgNotAllowed},
		{"reject/unknown-crit", signAssertion(t, assertionHeader("crit", []string{"x"}, "x", 1), c), ReasonCrit},
		{"reject/other-key-same-kid", compact(t, ES256, k.ecOther, mustJSON(t, assertionHeader()), mustJSON(t, c)), ReasonBadSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			av, rc := testAssertionVerifier(t, nil)
			_, err := av.VerifyAssertion(context.Background(), tc.token)
			if ReasonOf(err) != tc.reason {
				t.Fatalf("err = %v, want reason %s", err, tc.reason)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err %T is not *jwtauth.Error", err)
			}
			if rc.Len() != 0 {
				t.Fatalf("a rejected assertion occupies the replay cache (%d ids)", rc.Len())
			}
		})
	}
}

// TestVerifyAssertionBattery runs every access-token attack against the
// assertion verifier: each is refused, with the battery's reason or, for
// attacks that get past the signature with typ at+jwt, ReasonType.
func TestVerifyAssertionBattery(t *testing.T) {
	av, _ := testAssertionVerifier(t, nil)
	for _, tc := range attackBattery(t) {
		t.Run(tc.name, func(t *testing.T) {
			_, err := av.VerifyAssertion(context.Background(), tc.token)
			if r := ReasonOf(err); r != tc.reason && r != ReasonType {
				t.Fatalf("err = %v, want reason %s or %s", err, tc.reason, ReasonType)
			}
		})
	}
}

type failingReplay struct{}

func (failingReplay) Seen(context.Context, string, time.Time) (bool, error) {
	return false, errTestDown
}

func TestVerifyAssertionReplayCacheDown(t *testing.T) {
	av, _ := testAssertionVerifier(t, func(c *AssertionConfig) { c.Replay = failingReplay{} })
	_, err := av.VerifyAssertion(context.Background(), signAssertion(t, assertionHeader(), assertionClaimsAt()))
	if ReasonOf(err) != ReasonReplayCacheError || !errors.Is(err, errTestDown) {
		t.Fatalf("err = %v, want %s wrapping the cause", err, ReasonReplayCacheError)
	}
}

func TestNewAssertionVerifierConfig(t *testing.T) {
	src := testVerifier(t, nil).cfg.Keys
	rc := NewMemoryReplayCache(nil, 0)
	good := AssertionConfig{Issuer: testIss, Keys: src, Audience: testAud, Replay: rc}
	cases := []struct {
		name string
		mod  func(*AssertionConfig)
	}{
		{"reject/no-replay-cache", func(c *AssertionConfig) { c.Replay = nil }},
		{"reject/no-issuer", func(c *AssertionConfig) { c.Issuer = "" }},
		{"reject/no-keys", func(c *AssertionConfig) { c.Keys = nil }},
		{"reject/audience-with-path", func(c *AssertionConfig) { c.Audience = testAud + "/api" }},
		{"reject/no-audience", func(c *AssertionConfig) { c.Audience = "" }},
		{"reject/alg-none", func(c *AssertionConfig) { c.Algorithms = []string{"none"} }},
		{"reject/hmac-alg", func(c *AssertionConfig) { c.Algorithms = []string{ES256, HS256} }},
		{"reject/leeway-too-long", func(c *AssertionConfig) { c.Leeway = 2 * time.Minute }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.mod(&cfg)
			if _, err := NewAssertionVerifier(cfg); err == nil {
				t.Fatal("config accepted")
			}
		})
	}
	cfg := good
	cfg.Audience = "HTTPS://API.Example.TEST:443/"
	av, err := NewAssertionVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if av.Audience() != testAud {
		t.Fatalf("Audience() = %q, want %q", av.Audience(), testAud)
	}
}

func TestRequireAssertion(t *testing.T) {
	var got *Assertion
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = AssertionFrom(r.Context())
		w.WriteHeader(http.StatusNoContent)
	})
	tok := signAssertion(t, assertionHeader(), assertionClaimsAt())
	cases := []struct {
		name    string
		replay  ReplayCache
		headers []string
		status  int
		body    string
	}{
		{"ok", nil, []string{tok}, http.StatusNoContent, ""},
		{"reject/missing", nil, nil, http.StatusForbidden, `{"error":"invalid_assertion"}` + "\n"},
		{"reject/two-headers", nil, []string{tok, tok}, http.StatusForbidden, `{"error":"invalid_assertion"}` + "\n"},
		{"reject/access-token", nil, []string{signAssertion(t, assertionHeader("typ", "at+jwt"), assertionClaimsAt())}, http.StatusForbidden, `{"error":"invalid_assertion"}` + "\n"},
		{"reject/replay-cache-down", failingReplay{}, []string{tok}, http.StatusServiceUnavailable, `{"error":"temporarily_unavailable"}` + "\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got = nil
			av, _ := testAssertionVerifier(t, func(c *AssertionConfig) {
				if tc.replay != nil {
					c.Replay = tc.replay
				}
			})
			var rejected error
			h := av.RequireAssertion(next, func(_ *http.Request, err error) { rejected = err })
			r := httptest.NewRequest(http.MethodGet, "/notes", nil)
			for _, v := range tc.headers {
				r.Header.Add(AssertionHeader, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status || w.Body.String() != tc.body {
				t.Fatalf("got %d %q, want %d %q", w.Code, w.Body.String(), tc.status, tc.body)
			}
			if tc.status == http.StatusNoContent {
				if got == nil || got.Subject != "user-1" || rejected != nil {
					t.Fatalf("context assertion = %+v, onReject = %v", got, rejected)
				}
				return
			}
			if got != nil || rejected == nil || w.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("next reached (%v) or onReject not called (%v) or cacheable", got, rejected)
			}
		})
	}
}

// BenchmarkVerifyAssertion measures one uncached ES256 assertion
// verification including its replay-cache insert (every iteration a fresh
// jti, signed before the timer starts):
//
//	go test -run '^$' -bench VerifyAssertion -benchmem ./jwtauth/
func BenchmarkVerifyAssertion(b *testing.B) {
	av, _ := testAssertionVerifier(b, nil)
	toks := make([]string, b.N)
	for i := range toks {
		toks[i] = signAssertion(b, assertionHeader(), with(assertionClaimsAt(), "jti", "jti-"+strconv.Itoa(i)))
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := av.VerifyAssertion(ctx, toks[i]); err != nil {
			b.Fatal(err)
		}
	}
}
