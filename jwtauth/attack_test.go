package jwtauth

import (
	"context"
	"crypto/x509"
	"testing"

	"github.com/rampart-auth/rampart/jwtauth/jwtauthtest"
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
	cfg := Config{Issuer: testIss, Keys: src, Audiences: []string{testAud}, Clock: fixedClock, CacheSize: -1}
	if mod != nil {
		mod(&cfg)
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
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
		"accept/aud-array":         token(t, ES256, k.ec, "ec1", with(goodClaims(), "aud", []string{"x", testAud})),
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
			if c.Subject != "user-1" || c.Issuer != testIss || !c.HasScope("notes:read") || c.ClientID != "web" {
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
			key, err := ParseJWK([]byte(tc.jwk), tc.alg)
			if err == nil {
				t.Fatalf("accepted key %+v", key)
			}
			if ReasonOf(err) != ReasonBadKey {
				t.Fatalf("reason %q (%v), want bad_key", ReasonOf(err), err)
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
	v, err := New(Config{Issuer: testIss, Audiences: []string{testAud}, Keys: src, Algorithms: []string{HS256, RS256}, Clock: fixedClock})
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

// TestBatteryReasonsMatch keeps jwtauthtest's reason strings (it cannot
// import jwtauth) equal to our constants.
func TestBatteryReasonsMatch(t *testing.T) {
	for got, want := range map[string]Reason{
		jwtauthtest.ReasonMalformed: ReasonMalformed, jwtauthtest.ReasonTooLarge: ReasonTooLarge,
		jwtauthtest.ReasonAlgNotAllowed: ReasonAlgNotAllowed, jwtauthtest.ReasonForbiddenHeader: ReasonForbiddenHeader,
		jwtauthtest.ReasonCrit: ReasonCrit, jwtauthtest.ReasonUnknownKey: ReasonUnknownKey,
		jwtauthtest.ReasonBadSignature: ReasonBadSignature, jwtauthtest.ReasonType: ReasonType,
		jwtauthtest.ReasonExpired: ReasonExpired, jwtauthtest.ReasonNotYetValid: ReasonNotYetValid,
		jwtauthtest.ReasonIssuedInFuture: ReasonIssuedInFuture, jwtauthtest.ReasonMissingClaim: ReasonMissingClaim,
		jwtauthtest.ReasonBadClaim: ReasonBadClaim, jwtauthtest.ReasonIssuer: ReasonIssuer,
		jwtauthtest.ReasonAudience: ReasonAudience, jwtauthtest.ReasonBadKey: ReasonBadKey,
		jwtauthtest.ReasonDPoPRequired: ReasonDPoPRequired,
	} {
		if Reason(got) != want {
			t.Errorf("jwtauthtest reason %q, jwtauth %q", got, want)
		}
	}
}

// TestKeyAttackBattery: every key-policy attack is refused with its reason,
// either when the JWK is parsed (bad_key) or, when the key itself is sound,
// when the token is verified with it.
func TestKeyAttackBattery(t *testing.T) {
	for _, tc := range jwtauthtest.KeyBattery(t) {
		t.Run(tc.Name, func(t *testing.T) {
			key, err := ParseJWK([]byte(tc.JWK), "")
			if err == nil {
				src, _ := NewStaticKeys(key)
				v, verr := New(Config{Issuer: testIss, Audiences: []string{testAud}, Keys: src, Clock: fixedClock,
					Algorithms: []string{ES256, EdDSA, RS256, PS256}})
				if verr != nil {
					t.Fatal(verr)
				}
				var c *Claims
				if c, err = v.Verify(context.Background(), tc.Token); err == nil {
					t.Fatalf("accepted: %+v", c)
				}
			}
			if got := ReasonOf(err); got != Reason(tc.Reason) {
				t.Fatalf("reason %q (%v), want %q", got, err, tc.Reason)
			}
		})
	}
}
