package jwtauth

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"strconv"
	"strings"
	"testing"
)

// testVerifier trusts ES256 "ec1", EdDSA "ed1" and RS256 "rsa1".
func testVerifier(t testing.TB, mod func(*Config)) *Verifier {
	t.Helper()
	k := keys(t)
	ec, err := NewKey("ec1", ES256, &k.ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ed, err := NewKey("ed1", EdDSA, k.ed.Public())
	if err != nil {
		t.Fatal(err)
	}
	rs, err := NewKey("rsa1", RS256, &k.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	src, err := NewStaticKeys(ec, ed, rs)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Issuer: testIssuer, Keys: src, Audiences: []string{testAudience}, Clock: fixedClock, CacheSize: -1}
	if mod != nil {
		mod(&cfg)
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func with(c map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// attackCase is one token that must be rejected with reason.
type attackCase struct {
	name   string
	token  string
	reason Reason
}

// attackBattery builds every attack of issue 3 that needs no DPoP; the CLI
// tests run the same battery through `rampart jwt verify`.
func attackBattery(t testing.TB) []attackCase {
	k := keys(t)
	good := goodClaims()
	hdr := func(kv ...any) []byte { return mustJSON(t, with(hdrMap(ES256, "ec1"), kv...)) }
	payload := mustJSON(t, good)
	validES := token(t, ES256, k.ec, "ec1", good)
	parts := strings.Split(validES, ".")

	var cases []attackCase
	add := func(name, tok string, r Reason) { cases = append(cases, attackCase{name, tok, r}) }

	// alg none, in every spelling, with and without a signature.
	for _, spelling := range []string{"none", "None", "NONE", "nOnE"} {
		h := b64.EncodeToString(hdr("alg", spelling))
		p := b64.EncodeToString(payload)
		add("reject/alg-"+spelling+"-unsigned", h+"."+p+".", ReasonAlgNotAllowed)
		add("reject/alg-"+spelling+"-signed", h+"."+p+"."+parts[2], ReasonAlgNotAllowed)
	}
	// Key confusion: HS256 keyed with the RSA public key (PEM and DER).
	der, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	add("reject/hs256-keyed-with-rsa-public-pem", compact(t, HS256, pemKey, mustJSON(t, hdrMap(HS256, "rsa1")), payload), ReasonAlgNotAllowed)
	add("reject/hs256-keyed-with-rsa-public-der", compact(t, HS256, der, mustJSON(t, hdrMap(HS256, "rsa1")), payload), ReasonAlgNotAllowed)
	// A different key under a trusted kid.
	add("reject/other-key-same-kid", token(t, ES256, k.ecOther, "ec1", good), ReasonBadSignature)
	// Embedded key and remote key URLs.
	add("reject/embedded-jwk", compact(t, ES256, k.ecOther, hdr("jwk", map[string]any{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}), payload), ReasonForbiddenHeader)
	add("reject/jku-elsewhere", compact(t, ES256, k.ec, hdr("jku", "https://evil.example/jwks.json"), payload), ReasonForbiddenHeader)
	add("reject/x5u-elsewhere", compact(t, ES256, k.ec, hdr("x5u", "https://evil.example/cert.pem"), payload), ReasonForbiddenHeader)
	add("reject/x5c-embedded", compact(t, ES256, k.ec, hdr("x5c", []string{"MIIB"}), payload), ReasonForbiddenHeader)
	add("reject/kid-path-traversal", token(t, ES256, k.ec, "../../../../etc/passwd", good), ReasonUnknownKey)
	add("reject/kid-query", token(t, ES256, k.ec, "ec1?x=../", good), ReasonUnknownKey)
	// Time.
	add("reject/expired", token(t, ES256, k.ec, "ec1", with(good, "exp", testNow.Unix()-31)), ReasonExpired)
	add("reject/not-yet-valid", token(t, ES256, k.ec, "ec1", with(good, "nbf", testNow.Unix()+31)), ReasonNotYetValid)
	add("reject/issued-in-future", token(t, ES256, k.ec, "ec1", with(good, "iat", testNow.Unix()+31)), ReasonIssuedInFuture)
	add("reject/missing-exp", token(t, ES256, k.ec, "ec1", with(good, "exp", nil)), ReasonMissingClaim)
	add("reject/exp-string", token(t, ES256, k.ec, "ec1", with(good, "exp", "99999999999")), ReasonBadClaim)
	add("reject/exp-1e19", token(t, ES256, k.ec, "ec1", with(good, "exp", 1e19)), ReasonBadClaim)
	add("reject/exp-0", token(t, ES256, k.ec, "ec1", with(good, "exp", 0)), ReasonBadClaim)
	add("reject/exp-negative", token(t, ES256, k.ec, "ec1", with(good, "exp", -1)), ReasonBadClaim)
	add("reject/exp-null", token(t, ES256, k.ec, "ec1", with(good, "exp", json0{})), ReasonBadClaim)
	// Identity.
	add("reject/wrong-iss", token(t, ES256, k.ec, "ec1", with(good, "iss", "https://evil.example")), ReasonIssuer)
	add("reject/iss-prefix", token(t, ES256, k.ec, "ec1", with(good, "iss", testIssuer+".evil.example")), ReasonIssuer)
	add("reject/wrong-aud", token(t, ES256, k.ec, "ec1", with(good, "aud", "https://other.example")), ReasonAudience)
	add("reject/aud-number", token(t, ES256, k.ec, "ec1", with(good, "aud", 42)), ReasonBadClaim)
	add("reject/aud-object", token(t, ES256, k.ec, "ec1", with(good, "aud", map[string]any{"a": testAudience})), ReasonBadClaim)
	add("reject/aud-array-of-numbers", token(t, ES256, k.ec, "ec1", with(good, "aud", []int{1})), ReasonBadClaim)
	add("reject/id-token-as-access-token", compact(t, ES256, k.ec, hdr("typ", "JWT"), payload), ReasonType)
	add("reject/no-typ", compact(t, ES256, k.ec, hdr("typ", nil), payload), ReasonType)
	// Header extensions.
	add("reject/unknown-crit", compact(t, ES256, k.ec, hdr("crit", []string{"exp2"}, "exp2", 1), payload), ReasonCrit)
	add("reject/b64-false", compact(t, ES256, k.ec, hdr("b64", false, "crit", []string{"b64"}), payload), ReasonCrit)
	add("reject/b64-false-without-crit", compact(t, ES256, k.ec, hdr("b64", false), payload), ReasonCrit)
	// Encoding.
	dup := []byte(`{"iss":"` + testIssuer + `","sub":"user-1","sub":"admin","aud":"` + testAudience + `","iat":` + itoa(testNow.Unix()) + `,"exp":` + itoa(testNow.Unix()+600) + `}`)
	add("reject/duplicate-claims", compact(t, ES256, k.ec, hdr(), dup), ReasonMalformed)
	dupHdr := []byte(`{"alg":"ES256","kid":"ec1","typ":"at+jwt","alg":"none"}`)
	add("reject/duplicate-header-members", compact(t, ES256, k.ec, dupHdr, payload), ReasonMalformed)
	add("reject/non-canonical-base64", parts[0]+"."+parts[1]+"."+flipTrailingBits(parts[2]), ReasonMalformed)
	add("reject/padded-base64", parts[0]+"."+parts[1]+"."+parts[2]+"==", ReasonMalformed)
	add("reject/std-alphabet-base64", parts[0]+"."+parts[1]+"."+strings.NewReplacer("-", "+", "_", "/").Replace(parts[2])+"+/", ReasonMalformed)
	add("reject/oversized-token", parts[0]+"."+b64.EncodeToString(mustJSON(t, with(good, "pad", strings.Repeat("x", 9000))))+"."+parts[2], ReasonTooLarge)
	add("reject/extra-dots", validES+".", ReasonMalformed)
	add("reject/four-parts", parts[0]+"."+parts[1]+"."+parts[2]+"."+parts[2], ReasonMalformed)
	add("reject/two-parts", parts[0]+"."+parts[1], ReasonMalformed)
	add("reject/empty", "", ReasonMalformed)
	add("reject/payload-not-object", compact(t, ES256, k.ec, hdr(), []byte(`["x"]`)), ReasonMalformed)
	add("reject/trailing-json", compact(t, ES256, k.ec, hdr(), append(append([]byte{}, payload...), []byte(` {}`)...)), ReasonMalformed)
	// Signatures.
	sig, _ := b64.DecodeString(parts[2])
	add("reject/truncated-signature", parts[0]+"."+parts[1]+"."+b64.EncodeToString(sig[:len(sig)-1]), ReasonBadSignature)
	add("reject/empty-signature", parts[0]+"."+parts[1]+".", ReasonBadSignature)
	add("reject/ecdsa-r-s-zero", parts[0]+"."+parts[1]+"."+b64.EncodeToString(make([]byte, 64)), ReasonBadSignature)
	add("reject/ecdsa-der-signature", parts[0]+"."+parts[1]+"."+b64.EncodeToString(append([]byte{0x30, 0x44}, sig...)), ReasonBadSignature)
	add("reject/tampered-payload", parts[0]+"."+b64.EncodeToString(mustJSON(t, with(good, "sub", "admin")))+"."+parts[2], ReasonBadSignature)
	// Header alg differs from the key's alg (RSA key, PS256 header).
	add("reject/alg-differs-from-key", compact(t, PS256, k.rsa, mustJSON(t, hdrMap(PS256, "rsa1")), payload), ReasonAlgNotAllowed)
	add("reject/eddsa-header-on-ec-key", compact(t, EdDSA, k.ed, mustJSON(t, hdrMap(EdDSA, "ec1")), payload), ReasonAlgNotAllowed)
	return cases
}

// json0 marshals as JSON null.
type json0 struct{}

func (json0) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// flipTrailingBits changes the last base64url character so its unused low
// bits are non-zero: the same bytes, a non-canonical encoding.
func flipTrailingBits(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last|1])
}

func TestAttackBattery(t *testing.T) {
	v := testVerifier(t, func(c *Config) { c.Algorithms = []string{ES256, EdDSA, RS256, PS256, HS256} })
	for _, tc := range attackBattery(t) {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tc.token)
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			if got := ReasonOf(err); got != tc.reason {
				t.Fatalf("reason %q (%v), want %q", got, err, tc.reason)
			}
		})
	}
}

func TestAcceptsValidTokens(t *testing.T) {
	k := keys(t)
	v := testVerifier(t, nil)
	for name, tok := range map[string]string{
		"accept/es256":             token(t, ES256, k.ec, "ec1", goodClaims()),
		"accept/eddsa":             token(t, EdDSA, k.ed, "ed1", goodClaims()),
		"accept/rs256":             token(t, RS256, k.rsa, "rsa1", goodClaims()),
		"accept/aud-array":         token(t, ES256, k.ec, "ec1", with(goodClaims(), "aud", []string{"x", testAudience})),
		"accept/within-leeway":     token(t, ES256, k.ec, "ec1", with(goodClaims(), "exp", testNow.Unix()-29)),
		"accept/fractional-exp":    token(t, ES256, k.ec, "ec1", with(goodClaims(), "exp", float64(testNow.Unix())+600.5)),
		"accept/application-typ":   compact(t, ES256, k.ec, mustJSON(t, with(hdrMap(ES256, "ec1"), "typ", "application/AT+JWT")), mustJSON(t, goodClaims())),
		"accept/b64-true-harmless": compact(t, ES256, k.ec, mustJSON(t, with(hdrMap(ES256, "ec1"), "b64", true)), mustJSON(t, goodClaims())),
	} {
		t.Run(name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tok)
			if err != nil {
				t.Fatal(err)
			}
			if c.Subject != "user-1" || c.Issuer != testIssuer || !c.HasScope("notes:read") || c.ClientID != "web" {
				t.Fatalf("claims %+v", c)
			}
		})
	}
}

func TestPolicyChecks(t *testing.T) {
	k := keys(t)
	ctx := context.Background()
	deny := &memDeny{revoked: map[string]bool{"jti-revoked": true}}
	cases := []struct {
		name   string
		mod    func(*Config)
		claims map[string]any
		reason Reason
	}{
		{"reject/missing-required-scope", func(c *Config) { c.RequiredScopes = []string{"admin"} }, goodClaims(), ReasonScope},
		{"accept/required-scope", func(c *Config) { c.RequiredScopes = []string{"notes:read"} }, goodClaims(), ""},
		{"reject/claim-value", func(c *Config) { c.RequiredClaimValues = map[string]string{"tenant": "acme"} }, with(goodClaims(), "tenant", "evil"), ReasonClaimValue},
		{"reject/claim-value-wrong-type", func(c *Config) { c.RequiredClaimValues = map[string]string{"tenant": "1"} }, with(goodClaims(), "tenant", 1), ReasonClaimValue},
		{"accept/claim-value", func(c *Config) { c.RequiredClaimValues = map[string]string{"tenant": "acme"} }, with(goodClaims(), "tenant", "acme"), ""},
		{"reject/revoked-jti", func(c *Config) { c.DenyList = deny }, with(goodClaims(), "jti", "jti-revoked"), ReasonRevoked},
		{"reject/deny-list-needs-jti", func(c *Config) { c.DenyList = deny }, with(goodClaims(), "jti", nil), ReasonMissingClaim},
		{"reject/deny-list-down", func(c *Config) { c.DenyList = &memDeny{fail: true} }, goodClaims(), ReasonDenyListError},
		{"reject/missing-sub", nil, with(goodClaims(), "sub", nil), ReasonMissingClaim},
		{"reject/missing-iat", nil, with(goodClaims(), "iat", nil), ReasonMissingClaim},
		{"accept/skip-iss-aud", func(c *Config) { c.SkipIssuer, c.SkipAudience, c.Issuer = true, true, "" }, with(goodClaims(), "iss", "x", "aud", "y"), ""},
		{"reject/skip-keeps-exp", func(c *Config) { c.SkipIssuer, c.SkipAudience, c.SkipType = true, true, true }, with(goodClaims(), "exp", testNow.Unix()-100), ReasonExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := testVerifier(t, tc.mod)
			_, err := v.Verify(ctx, token(t, ES256, k.ec, "ec1", tc.claims))
			if got := ReasonOf(err); got != tc.reason {
				t.Fatalf("reason %q (%v), want %q", got, err, tc.reason)
			}
		})
	}
}

func TestKeyPolicy(t *testing.T) {
	k := keys(t)
	cases := map[string]struct {
		jwk, alg string
	}{
		"reject/rsa-1024":          {jwkJSON(t, &k.rsaWeak.PublicKey, "RS256", ""), ""},
		"reject/use-enc":           {jwkJSON(t, &k.rsa.PublicKey, "RS256", "enc"), ""},
		"reject/alg-mismatch":      {jwkJSON(t, &k.rsa.PublicKey, "RS256", ""), PS256},
		"reject/no-alg":            {jwkJSON(t, &k.ec.PublicKey, "", ""), ""},
		"reject/oct-key":           {`{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI","alg":"HS256"}`, ""},
		"reject/private-ec":        {jwkJSON(t, k.ec, "ES256", ""), ""},
		"reject/ec-off-curve":      {`{"kty":"EC","crv":"P-256","alg":"ES256","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE"}`, ""},
		"reject/es256-on-p384":     {`{"kty":"EC","crv":"P-384","alg":"ES256","x":"AA","y":"AA"}`, ""},
		"reject/duplicate-members": {`{"kty":"OKP","crv":"Ed25519","x":"AA","x":"BB","alg":"EdDSA"}`, ""},
		"reject/ed25519-short":     {`{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","x":"AAAA"}`, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if key, err := ParseJWK([]byte(tc.jwk), tc.alg); err == nil {
				t.Fatalf("accepted key %+v", key)
			}
		})
	}
	if _, err := ParseJWK([]byte(jwkJSON(t, &k.ec.PublicKey, "ES256", "sig")), ""); err != nil {
		t.Fatalf("a good JWK was refused: %v", err)
	}
	if _, err := NewHMACKey("h", HS256, make([]byte, 31)); err == nil {
		t.Fatal("a 248-bit HMAC key was accepted")
	}
	if _, err := New(Config{Issuer: "x", Audiences: []string{"a"}, Keys: &StaticKeys{}, Algorithms: []string{"none"}}); err == nil {
		t.Fatal("alg none accepted in the allowlist")
	}
	if _, err := New(Config{Issuer: "x", Audiences: []string{"a"}, Keys: &StaticKeys{}, Leeway: 2 * 60e9}); err == nil {
		t.Fatal("a 2-minute leeway was accepted")
	}
}

// TestHMACOnlyFromStaticKeys: HS256 works with a static secret of 256 bits,
// and the same verifier still refuses HS256 under an asymmetric kid.
func TestHMACOnlyFromStaticKeys(t *testing.T) {
	k := keys(t)
	secret := []byte("0123456789abcdef0123456789abcdef")
	hk, err := NewHMACKey("h1", HS256, secret)
	if err != nil {
		t.Fatal(err)
	}
	rs, _ := NewKey("rsa1", RS256, &k.rsa.PublicKey)
	src, _ := NewStaticKeys(hk, rs)
	v, err := New(Config{Issuer: testIssuer, Audiences: []string{testAudience}, Keys: src, Algorithms: []string{HS256, RS256}, Clock: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), compact(t, HS256, secret, mustJSON(t, hdrMap(HS256, "h1")), mustJSON(t, goodClaims()))); err != nil {
		t.Fatalf("static HS256: %v", err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	_, err = v.Verify(context.Background(), compact(t, HS256, der, mustJSON(t, hdrMap(HS256, "rsa1")), mustJSON(t, goodClaims())))
	if ReasonOf(err) != ReasonAlgNotAllowed {
		t.Fatalf("HS256 under an RSA kid: %v", err)
	}
}

type memDeny struct {
	revoked map[string]bool
	fail    bool
}

func (m *memDeny) IsRevoked(_ context.Context, jti string) (bool, error) {
	if m.fail {
		return false, errTestDown
	}
	return m.revoked[jti], nil
}
