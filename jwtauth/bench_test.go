package jwtauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Benchmarks against golang-jwt/jwt/v5 on the same tokens:
//
//	go test -run '^$' -bench . -benchmem ./jwtauth/
//
// "Ours" is uncached (CacheSize -1) and does strictly more work (duplicate
// member checks, typ, full claim policy); golang-jwt is configured with the
// closest checks it has (method pinned, iss, aud, exp required).
func BenchmarkVerify(b *testing.B) {
	k := keys(b)
	claims := with(goodClaims(), "exp", time.Now().Add(time.Hour).Unix(), "iat", time.Now().Unix())
	cases := []struct {
		alg    string
		priv   any
		kid    string
		pub    any
		method jwt.SigningMethod
	}{
		{ES256, k.ec, "ec1", &k.ec.PublicKey, jwt.SigningMethodES256},
		{EdDSA, k.ed, "ed1", k.ed.Public(), jwt.SigningMethodEdDSA},
		{RS256, k.rsa, "rsa1", &k.rsa.PublicKey, jwt.SigningMethodRS256},
	}
	for _, tc := range cases {
		tok := token(b, tc.alg, tc.priv, tc.kid, claims)
		b.Run(tc.alg+"/rampart", func(b *testing.B) {
			v := testVerifier(b, func(c *Config) { c.Clock = time.Now })
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(context.Background(), tok); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.alg+"/golang-jwt", func(b *testing.B) {
			p := jwt.NewParser(jwt.WithValidMethods([]string{tc.method.Alg()}), jwt.WithIssuer(testIss),
				jwt.WithAudience(testAud), jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(30*time.Second))
			pub := tc.pub
			keyFunc := func(t *jwt.Token) (any, error) { return pub, nil }
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Parse(tok, keyFunc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// Cache hit: the same token again (target < 2 µs, ≤ 2 allocations).
	tok := token(b, ES256, k.ec, "ec1", claims)
	b.Run("ES256/rampart-cache-hit", func(b *testing.B) {
		v := testVerifier(b, func(c *Config) { c.Clock = time.Now; c.CacheSize = 0 })
		if _, err := v.Verify(context.Background(), tok); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(context.Background(), tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ES256/rampart-cache-hit-parallel", func(b *testing.B) {
		v := testVerifier(b, func(c *Config) { c.Clock = time.Now; c.CacheSize = 0 })
		if _, err := v.Verify(context.Background(), tok); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := v.Verify(context.Background(), tok); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// Compile-time use of the key types in the table above.
var (
	_ *ecdsa.PublicKey
	_ ed25519.PublicKey
	_ *rsa.PublicKey
)
