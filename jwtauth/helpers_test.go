package jwtauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/jwtauth/jwtauthtest"
)

// The token factory and attack battery live in jwtauthtest so the
// CLI tests run exactly the same attacks; these are short local names.
var (
	testNow     = jwtauthtest.Now
	errTestDown = jwtauthtest.ErrDown
	compact     = jwtauthtest.Compact
	goodClaims  = jwtauthtest.GoodClaims
	hdrMap      = jwtauthtest.Header
	token       = jwtauthtest.Token
	with        = jwtauthtest.With
	jwkJSON     = jwtauthtest.JWKJSON
)

const (
	testIssuer   = jwtauthtest.Issuer
	testAudience = jwtauthtest.Audience
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
	k := jwtauthtest.Generate(t)
	return &testKeys{ec: k.EC, ecOther: k.ECOther, ed: k.Ed, rsa: k.RSA, rsaWeak: k.RSAWeak}
}

func mustJSON(t testing.TB, v any) []byte { return jwtauthtest.MustJSON(t, v) }

func fixedClock() time.Time { return testNow }

// attackCase is one token that must be rejected with reason.
type attackCase struct {
	name   string
	token  string
	reason Reason
}

func attackBattery(t testing.TB) []attackCase {
	var out []attackCase
	for _, c := range jwtauthtest.Battery(t) {
		out = append(out, attackCase{c.Name, c.Token, Reason(c.Reason)})
	}
	return out
}
