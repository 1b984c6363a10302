package jwtauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// testNow is the fixed time of every test.
var testNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

const (
	testIssuer   = "https://auth.example.test"
	testAudience = "https://api.example.test"
)

// testKeys are generated once per test binary.
type testKeys struct {
	ec, ecOther *ecdsa.PrivateKey
	ed          ed25519.PrivateKey
	rsa         *rsa.PrivateKey
	rsaWeak     *rsa.PrivateKey
}

var (
	keysOnce sync.Once
	tk       testKeys
)

func keys(t testing.TB) *testKeys {
	keysOnce.Do(func() {
		var err error
		must := func(e error) {
			if e != nil {
				err = e
			}
		}
		tk.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		tk.ecOther, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		_, tk.ed, err = ed25519.GenerateKey(rand.Reader)
		must(err)
		tk.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		tk.rsaWeak, err = rsa.GenerateKey(rand.Reader, 1024) // #nosec G403 -- deliberately weak: the test proves it is refused.
		must(err)
		if err != nil {
			panic(err)
		}
	})
	return &tk
}

// signRaw signs input with the private key for alg, producing the JWS
// signature bytes (R||S for ECDSA).
func signRaw(t testing.TB, alg string, priv any, input string) []byte {
	t.Helper()
	switch alg {
	case ES256:
		d := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, priv.(*ecdsa.PrivateKey), d[:])
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	case EdDSA:
		return ed25519.Sign(priv.(ed25519.PrivateKey), []byte(input))
	case RS256:
		d := sha256.Sum256([]byte(input))
		sig, err := rsa.SignPKCS1v15(rand.Reader, priv.(*rsa.PrivateKey), crypto.SHA256, d[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	case PS256:
		d := sha256.Sum256([]byte(input))
		sig, err := rsa.SignPSS(rand.Reader, priv.(*rsa.PrivateKey), crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		if err != nil {
			t.Fatal(err)
		}
		return sig
	case HS256:
		m := hmac.New(sha256.New, priv.([]byte))
		m.Write([]byte(input))
		return m.Sum(nil)
	}
	t.Fatalf("signRaw: alg %s", alg)
	return nil
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// compact assembles header and payload JSON bytes and signs them.
func compact(t testing.TB, alg string, priv any, header, payload []byte) string {
	t.Helper()
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	return input + "." + b64.EncodeToString(signRaw(t, alg, priv, input))
}

// goodClaims are valid access-token claims at testNow.
func goodClaims() map[string]any {
	return map[string]any{
		"iss": testIssuer, "sub": "user-1", "aud": testAudience,
		"iat": testNow.Unix() - 10, "exp": testNow.Unix() + 600,
		"jti": "jti-1", "client_id": "web", "scope": "notes:read notes:write",
	}
}

func hdrMap(alg, kid string) map[string]any {
	return map[string]any{"alg": alg, "kid": kid, "typ": "at+jwt"}
}

// token signs claims with alg/priv under kid.
func token(t testing.TB, alg string, priv any, kid string, claims map[string]any) string {
	return compact(t, alg, priv, mustJSON(t, hdrMap(alg, kid)), mustJSON(t, claims))
}

func fixedClock() time.Time { return testNow }

var errTestDown = errors.New("test: dependency down")

// jwkJSON marshals key (public or private) as a JWK with alg and use.
func jwkJSON(t testing.TB, key any, alg, use string) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: key, Algorithm: alg, Use: use, KeyID: "k"})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
