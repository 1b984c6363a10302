package gateway_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/gateway"
	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
	"github.com/rampart-auth/rampart/jwtauth"
)

const (
	testIssuer   = "https://auth.example.test"
	upstream     = "http://notes.internal:9001"
	otherService = "http://billing.internal:9002"
)

// memAuditor is an in-memory keys.Auditor.
type memAuditor struct {
	mu     sync.Mutex
	events []audit.Event
}

func (a *memAuditor) Record(_ context.Context, e audit.Event) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, e)
	return nil
}

// newKeyManager is a real key manager over a fresh SQLite store, as serve
// builds it (sealed keys, ES256, initialized ring).
func newKeyManager(t testing.TB) *keys.Manager {
	t.Helper()
	mk, err := kms.LoadMasterKey("", testkit.MasterKeyBase64)
	if err != nil {
		t.Fatal(err)
	}
	kek, err := kms.NewKEK(mk, 1)
	if err != nil {
		t.Fatal(err)
	}
	km, err := keys.NewManager(keys.Options{
		Store: storetest.Open(t, sqlstore.SQLite), Master: kek, MaxTokenLifetime: time.Hour,
		Auditor: &memAuditor{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.Init(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
	return km
}

// rig is a minter on a real key manager and a verifier for upstream that
// reads the manager's JWKS document over HTTP, as a service would.
type rig struct {
	km     *keys.Manager
	minter *gateway.AssertionMinter
	av     *jwtauth.AssertionVerifier
	clock  *testkit.Clock
	replay *jwtauth.MemoryReplayCache
}

func newRig(t testing.TB) *rig {
	t.Helper()
	km := newKeyManager(t)
	srv := httptest.NewServer(km.JWKSHandler())
	t.Cleanup(srv.Close)
	jwks, err := jwtauth.NewJWKS(jwtauth.JWKSConfig{URL: srv.URL + "/.well-known/jwks.json"})
	if err != nil {
		t.Fatal(err)
	}
	clock := testkit.NewClock(time.Now())
	minter, err := gateway.NewAssertionMinter(gateway.MinterOptions{Signer: km, Issuer: testIssuer, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	rc := jwtauth.NewMemoryReplayCache(clock.Now, 0)
	av, err := jwtauth.NewAssertionVerifier(jwtauth.AssertionConfig{
		Issuer: testIssuer, Keys: jwks, Audience: upstream, Algorithms: []string{jwtauth.ES256},
		Replay: rc, Clock: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{km: km, minter: minter, av: av, clock: clock, replay: rc}
}

func userAssertion() gateway.Assertion {
	return gateway.Assertion{Subject: "user-1", ClientID: "web", Scopes: []string{"notes:read", "notes:write"},
		Route: "notes-read", RequestID: "0123456789abcdef0123456789abcdef", Audience: upstream}
}

func (r *rig) mint(t testing.TB, a gateway.Assertion) string {
	t.Helper()
	tok, err := r.minter.Mint(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// parts decodes a compact JWS's header and payload as JSON objects.
func parts(t testing.TB, tok string) (map[string]any, map[string]any) {
	t.Helper()
	seg := strings.Split(tok, ".")
	if len(seg) != 3 {
		t.Fatalf("%d segments", len(seg))
	}
	var out [2]map[string]any
	for i := range out {
		b, err := base64.RawURLEncoding.Strict().DecodeString(seg[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out[0], out[1]
}

func TestMintVerify(t *testing.T) {
	r := newRig(t)
	tok := r.mint(t, userAssertion())
	hdr, claims := parts(t, tok)
	k, err := r.km.Signer()
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"alg": "ES256", "kid": k.KID, "typ": jwtauth.AssertionType}; !reflect.DeepEqual(hdr, want) {
		t.Fatalf("header = %v, want %v", hdr, want)
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range claims {
			if !yield(n) {
				return
			}
		}
	})
	if want := []string{"aud", "client_id", "exp", "iat", "iss", "jti", "rid", "route", "scope", "sub"}; !slices.Equal(names, want) {
		t.Fatalf("claims %v, want exactly %v", names, want)
	}
	if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 30 {
		t.Fatalf("exp - iat = %v, want the default 30 s", exp-iat)
	}
	if id, err := base64.RawURLEncoding.Strict().DecodeString(claims["jti"].(string)); err != nil || len(id) != 16 {
		t.Fatalf("jti %q is not 128 bits of base64url", claims["jti"])
	}
	a, err := r.av.VerifyAssertion(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if a.Subject != "user-1" || a.ClientID != "web" || a.Route != "notes-read" || a.Audience != upstream ||
		a.RequestID != "0123456789abcdef0123456789abcdef" || !a.HasScope("notes:write") || a.Issuer != testIssuer {
		t.Fatalf("verified assertion = %+v", a)
	}
	if _, err := r.av.VerifyAssertion(context.Background(), tok); jwtauth.ReasonOf(err) != jwtauth.ReasonAssertionReplay {
		t.Fatalf("replayed: err = %v, want %s", err, jwtauth.ReasonAssertionReplay)
	}
	if tok2 := r.mint(t, userAssertion()); tok2 == tok {
		t.Fatal("two mints gave the same assertion")
	}
}

func TestMintVerifyNoUser(t *testing.T) {
	r := newRig(t)
	tok := r.mint(t, gateway.Assertion{Route: "health", RequestID: "rid-1", Audience: "HTTP://Notes.Internal:9001/"})
	_, claims := parts(t, tok)
	for _, n := range []string{"sub", "client_id", "scope"} {
		if _, ok := claims[n]; ok {
			t.Fatalf("auth: none assertion carries %s: %v", n, claims)
		}
	}
	if claims["aud"] != upstream {
		t.Fatalf("aud = %v, want the normalized %s", claims["aud"], upstream)
	}
	a, err := r.av.VerifyAssertion(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if a.Subject != "" || a.ClientID != "" || len(a.Scopes()) != 0 {
		t.Fatalf("auth: none assertion = %+v", a)
	}
}

// signWithRing signs header and claims with the key ring's active key by
// hand (the access-token and over-long-assertion cases).
func signWithRing(t testing.TB, km *keys.Manager, hdr map[string]any, claims map[string]any) string {
	t.Helper()
	k, err := km.Signer()
	if err != nil {
		t.Fatal(err)
	}
	if hdr["kid"] == nil {
		hdr["kid"] = k.KID
	}
	h, _ := json.Marshal(hdr)
	p, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	d := sha256.Sum256([]byte(input))
	rr, ss, err := ecdsa.Sign(rand.Reader, k.Signer.(*ecdsa.PrivateKey), d[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	rr.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestVerifyRefusesThroughJWKS(t *testing.T) {
	r := newRig(t)
	now := r.clock.Now().Unix()
	claims := func(kv ...any) map[string]any {
		c := map[string]any{"iss": testIssuer, "sub": "user-1", "aud": upstream, "client_id": "web", "scope": "notes:read",
			"route": "notes-read", "rid": "rid-1", "iat": now, "exp": now + 30, "jti": "jti-" + strings.Repeat("x", 8)}
		for i := 0; i+1 < len(kv); i += 2 {
			c[kv[i].(string)] = kv[i+1]
		}
		return c
	}
	asrt := map[string]any{"alg": "ES256", "typ": jwtauth.AssertionType}
	k, _ := r.km.Signer()
	der, err := x509.MarshalPKIXPublicKey(k.Signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	noneTok := b64JSON(map[string]any{"alg": "none", "typ": jwtauth.AssertionType, "kid": k.KID}) + "." + b64JSON(claims()) + "."
	hsInput := b64JSON(map[string]any{"alg": "HS256", "typ": jwtauth.AssertionType, "kid": k.KID}) + "." + b64JSON(claims())
	mac := hmac.New(sha256.New, der)
	mac.Write([]byte(hsInput))
	hsTok := hsInput + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))

	cases := []struct {
		name   string
		token  func() string
		reason jwtauth.Reason
	}{
		{"reject/retargeted", func() string {
			a := userAssertion()
			a.Audience = otherService
			return r.mint(t, a)
		}, jwtauth.ReasonAudience},
		{"reject/access-token-same-key", func() string {
			return signWithRing(t, r.km, map[string]any{"alg": "ES256", "typ": "at+jwt"}, claims())
		}, jwtauth.ReasonType},
		{"reject/id-token-same-key", func() string {
			return signWithRing(t, r.km, map[string]any{"alg": "ES256", "typ": "JWT"}, claims())
		}, jwtauth.ReasonType},
		{"reject/lifetime-61s", func() string {
			return signWithRing(t, r.km, copyMap(asrt), claims("exp", now+61))
		}, jwtauth.ReasonBadClaim},
		{"reject/alg-none", func() string { return noneTok }, jwtauth.ReasonAlgNotAllowed},
		{"reject/hs256-keyed-with-public-key", func() string { return hsTok }, jwtauth.ReasonAlgNotAllowed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := r.av.VerifyAssertion(context.Background(), tc.token()); jwtauth.ReasonOf(err) != tc.reason {
				t.Fatalf("err = %v, want %s", err, tc.reason)
			}
		})
	}
	// The hand-signing is sound: the same claims with the assertion typ
	// and a 60 s lifetime verify.
	if _, err := r.av.VerifyAssertion(context.Background(), signWithRing(t, r.km, copyMap(asrt), claims("exp", now+60))); err != nil {
		t.Fatalf("control: %v", err)
	}
}

func TestVerifyRefusesExpired(t *testing.T) {
	r := newRig(t)
	tok := r.mint(t, userAssertion())
	r.clock.Add(30*time.Second + jwtauth.DefaultAssertionLeeway + time.Second)
	if _, err := r.av.VerifyAssertion(context.Background(), tok); jwtauth.ReasonOf(err) != jwtauth.ReasonExpired {
		t.Fatalf("err = %v, want %s", err, jwtauth.ReasonExpired)
	}
}

func b64JSON(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestMintSizeLimit finds the largest subject that still mints: its
// assertion is at most 4 KiB and verifies; one byte more is refused.
func TestMintSizeLimit(t *testing.T) {
	r := newRig(t)
	a := userAssertion()
	lo, hi := 1, jwtauth.MaxAssertionSize // lo mints, hi does not
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		a.Subject = strings.Repeat("u", mid)
		if _, err := r.minter.Mint(context.Background(), a); err == nil {
			lo = mid
		} else if errors.Is(err, gateway.ErrAssertionTooLarge) {
			hi = mid
		} else {
			t.Fatal(err)
		}
	}
	a.Subject = strings.Repeat("u", lo)
	tok := r.mint(t, a)
	if len(tok) > jwtauth.MaxAssertionSize || len(tok) < jwtauth.MaxAssertionSize-100 {
		t.Fatalf("largest assertion is %d bytes", len(tok))
	}
	if _, err := r.av.VerifyAssertion(context.Background(), tok); err != nil {
		t.Fatalf("largest assertion: %v", err)
	}
	a.Subject = strings.Repeat("u", 5000)
	if _, err := r.minter.Mint(context.Background(), a); !errors.Is(err, gateway.ErrAssertionTooLarge) {
		t.Fatalf("5000-byte subject: err = %v, want ErrAssertionTooLarge", err)
	}
}

func TestMintRefuses(t *testing.T) {
	r := newRig(t)
	cases := []struct {
		name string
		mod  func(*gateway.Assertion)
	}{
		{"reject/audience-with-path", func(a *gateway.Assertion) { a.Audience = upstream + "/api" }},
		{"reject/audience-userinfo", func(a *gateway.Assertion) { a.Audience = "http://u@notes.internal" }},
		{"reject/audience-empty", func(a *gateway.Assertion) { a.Audience = "" }},
		{"reject/route-empty", func(a *gateway.Assertion) { a.Route = "" }},
		{"reject/route-upper-case", func(a *gateway.Assertion) { a.Route = "Notes" }},
		{"reject/route-quote", func(a *gateway.Assertion) { a.Route = `notes","sub":"admin` }},
		{"reject/rid-empty", func(a *gateway.Assertion) { a.RequestID = "" }},
		{"reject/rid-space", func(a *gateway.Assertion) { a.RequestID = "a b" }},
		{"reject/rid-too-long", func(a *gateway.Assertion) { a.RequestID = strings.Repeat("r", 129) }},
		{"reject/scope-with-space", func(a *gateway.Assertion) { a.Scopes = []string{"notes:read admin"} }},
		{"reject/scope-empty", func(a *gateway.Assertion) { a.Scopes = []string{""} }},
		{"reject/scope-quote", func(a *gateway.Assertion) { a.Scopes = []string{`a"b`} }},
		{"reject/subject-invalid-utf8", func(a *gateway.Assertion) { a.Subject = "user-\xff" }},
		{"reject/client-invalid-utf8", func(a *gateway.Assertion) { a.ClientID = "\xc0\xaf" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := userAssertion()
			tc.mod(&a)
			if tok, err := r.minter.Mint(context.Background(), a); err == nil {
				t.Fatalf("minted %s", tok)
			} else if !strings.HasPrefix(err.Error(), "gateway: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.minter.Mint(ctx, userAssertion()); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err = %v", err)
	}
}

func TestNewAssertionMinterOptions(t *testing.T) {
	signer := staticSigner{}
	cases := []struct {
		name string
		o    gateway.MinterOptions
	}{
		{"reject/no-signer", gateway.MinterOptions{Issuer: testIssuer}},
		{"reject/no-issuer", gateway.MinterOptions{Signer: signer}},
		{"reject/ttl-61s", gateway.MinterOptions{Signer: signer, Issuer: testIssuer, TTL: 61 * time.Second}},
		{"reject/ttl-1h", gateway.MinterOptions{Signer: signer, Issuer: testIssuer, TTL: time.Hour}},
		{"reject/ttl-fraction", gateway.MinterOptions{Signer: signer, Issuer: testIssuer, TTL: 1500 * time.Millisecond}},
		{"reject/ttl-negative", gateway.MinterOptions{Signer: signer, Issuer: testIssuer, TTL: -time.Second}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := gateway.NewAssertionMinter(tc.o); err == nil {
				t.Fatal("options accepted")
			}
		})
	}
	if _, err := gateway.NewAssertionMinter(gateway.MinterOptions{Signer: signer, Issuer: testIssuer, TTL: time.Minute}); err != nil {
		t.Fatalf("60 s TTL: %v", err)
	}
}

// staticSigner serves one fixed key.
type staticSigner struct{ k keys.ActiveKey }

func (s staticSigner) Signer() (keys.ActiveKey, error) {
	if s.k.Signer == nil {
		return keys.ActiveKey{}, keys.ErrNoActiveKey
	}
	return s.k, nil
}

// TestMintAlgorithms signs with every algorithm the key ring can hold and
// verifies with jwtauth's own signature checks.
func TestMintAlgorithms(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		alg  string
		priv crypto.Signer
	}{{jwtauth.ES256, ec}, {jwtauth.EdDSA, ed}, {jwtauth.RS256, rs}, {jwtauth.PS256, rs}} {
		t.Run(tc.alg, func(t *testing.T) {
			m, err := gateway.NewAssertionMinter(gateway.MinterOptions{Signer: staticSigner{keys.ActiveKey{KID: "k-" + tc.alg, Algorithm: tc.alg, Signer: tc.priv}}, Issuer: testIssuer})
			if err != nil {
				t.Fatal(err)
			}
			key, err := jwtauth.NewKey("k-"+tc.alg, tc.alg, tc.priv.Public())
			if err != nil {
				t.Fatal(err)
			}
			src, err := jwtauth.NewStaticKeys(key)
			if err != nil {
				t.Fatal(err)
			}
			av, err := jwtauth.NewAssertionVerifier(jwtauth.AssertionConfig{Issuer: testIssuer, Keys: src, Audience: upstream,
				Algorithms: []string{tc.alg}, Replay: jwtauth.NewMemoryReplayCache(nil, 0)})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := m.Mint(context.Background(), userAssertion())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := av.VerifyAssertion(context.Background(), tok); err != nil {
				t.Fatal(err)
			}
		})
	}
	m, _ := gateway.NewAssertionMinter(gateway.MinterOptions{Signer: staticSigner{}, Issuer: testIssuer})
	if _, err := m.Mint(context.Background(), userAssertion()); !errors.Is(err, keys.ErrNoActiveKey) {
		t.Fatalf("no active key: err = %v", err)
	}
}

// BenchmarkMint measures one assertion per request with the key ring's
// ES256 key:
//
//	go test -run '^$' -bench Mint -benchmem ./internal/gateway/
func BenchmarkMint(b *testing.B) {
	km := newKeyManager(b)
	m, err := gateway.NewAssertionMinter(gateway.MinterOptions{Signer: km, Issuer: testIssuer})
	if err != nil {
		b.Fatal(err)
	}
	a := userAssertion()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Mint(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
}
