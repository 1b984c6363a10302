package jwtauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/jwtattack"
)

// The token factory and attack battery live in internal/jwtattack so the
// CLI tests run exactly the same attacks; these are short local names.
var (
	testNow     = jwtattack.Now
	errTestDown = jwtattack.ErrDown
	compact     = jwtattack.Compact
	goodClaims  = jwtattack.GoodClaims
	hdrMap      = jwtattack.Header
	token       = jwtattack.Token
	with        = jwtattack.With
	jwkJSON     = jwtattack.JWKJSON
)

const (
	testIssuer   = jwtattack.Issuer
	testAudience = jwtattack.Audience
	testIss      = testIssuer
	testAud      = testAudience
)

// testKeys are the battery's keys under short local names.
type testKeys struct {
	ec, ecOther  *ecdsa.PrivateKey
	ed           ed25519.PrivateKey
	rsa, rsaWeak *rsa.PrivateKey
}

func keys(t testing.TB) *testKeys {
	k := jwtattack.Generate(t)
	return &testKeys{ec: k.EC, ecOther: k.ECOther, ed: k.Ed, rsa: k.RSA, rsaWeak: k.RSAWeak}
}

func mustJSON(t testing.TB, v any) []byte { return jwtattack.MustJSON(t, v) }

func fixedClock() time.Time { return testNow }

// attackCase is one token that must be rejected with reason.
type attackCase struct {
	name   string
	token  string
	reason Reason
}

func attackBattery(t testing.TB) []attackCase {
	var out []attackCase
	for _, c := range jwtattack.Battery(t) {
		out = append(out, attackCase{c.Name, c.Token, Reason(c.Reason)})
	}
	return out
}
