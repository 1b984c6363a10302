// Package jwtauthtest is test support for jwtauth: a token factory and the
// attack battery (every classic JWT bypass, one named case each, with the
// Reason it must be rejected with). jwtauth's own tests and the
// `rampart jwt verify` tests run exactly the same attacks from here, and a
// service can run them against its own jwtauth configuration.
//
// It deliberately does not import jwtauth (jwtauth's in-package tests import
// it), so reasons are plain strings; jwtauth's tests check that they equal
// its Reason constants. Keys are generated once per test binary.
package jwtauthtest

import (
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
	"encoding/pem"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Algorithm names (the same strings as jwtauth's constants).
const (
	ES256 = "ES256"
	EdDSA = "EdDSA"
	RS256 = "RS256"
	PS256 = "PS256"
	HS256 = "HS256"
)

var b64 = base64.RawURLEncoding

// Now is the fixed time of every test.
var Now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

const (
	Issuer   = "https://auth.example.test"
	Audience = "https://api.example.test"
)

// Keys are generated once per test binary.
type Keys struct {
	EC, ECOther *ecdsa.PrivateKey
	Ed          ed25519.PrivateKey
	RSA         *rsa.PrivateKey
	RSAWeak     *rsa.PrivateKey
}

var (
	keysOnce sync.Once
	tk       Keys
)

var keysErr error

// Generate returns the battery's keys, generating them on first use.
func Generate(t testing.TB) *Keys {
	t.Helper()
	keysOnce.Do(func() {
		var errs [5]error
		tk.EC, errs[0] = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tk.ECOther, errs[1] = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		_, tk.Ed, errs[2] = ed25519.GenerateKey(rand.Reader)
		tk.RSA, errs[3] = rsa.GenerateKey(rand.Reader, 2048)
		tk.RSAWeak, errs[4] = rsa.GenerateKey(rand.Reader, 1024) // #nosec G403 -- deliberately weak: the battery proves it is refused.
		keysErr = errors.Join(errs[:]...)
	})
	if keysErr != nil {
		t.Fatalf("jwtauthtest: generating keys: %v", keysErr)
	}
	return &tk
}

// SignRaw signs input with the private key for alg, producing the JWS
// signature bytes (R||S for ECDSA).
func SignRaw(t testing.TB, alg string, priv any, input string) []byte {
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
	t.Fatalf("SignRaw: alg %s", alg)
	return nil
}

// MustJSON marshals v or fails the test.
func MustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Compact assembles header and payload JSON bytes and signs them.
func Compact(t testing.TB, alg string, priv any, header, payload []byte) string {
	t.Helper()
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	return input + "." + b64.EncodeToString(SignRaw(t, alg, priv, input))
}

// GoodClaims are valid access-token claims at Now.
func GoodClaims() map[string]any {
	return map[string]any{
		"iss": Issuer, "sub": "user-1", "aud": Audience,
		"iat": Now.Unix() - 10, "exp": Now.Unix() + 600,
		"jti": "jti-1", "client_id": "web", "scope": "notes:read notes:write",
	}
}

// Header is an access-token JOSE header (typ at+jwt).
func Header(alg, kid string) map[string]any {
	return map[string]any{"alg": alg, "kid": kid, "typ": "at+jwt"}
}

// Token signs claims with alg/priv under kid.
func Token(t testing.TB, alg string, priv any, kid string, claims map[string]any) string {
	return Compact(t, alg, priv, MustJSON(t, Header(alg, kid)), MustJSON(t, claims))
}

// Clock is a clock stopped at Now.
func Clock() time.Time { return Now }

// ErrDown is what test doubles of unavailable dependencies return.
var ErrDown = errors.New("test: dependency down")

// JWKJSON marshals key (public or private) as a JWK with alg and use.
func JWKJSON(t testing.TB, key any, alg, use string) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: key, Algorithm: alg, Use: use, KeyID: "k"})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// With returns a copy of c with the key/value pairs kv set; a nil value
// deletes the key.
func With(c map[string]any, kv ...any) map[string]any {
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

// Case is one token that must be rejected with reason.
type Case struct {
	Name   string
	Token  string
	Reason string // a jwtauth.Reason value
}

// The jwtauth reasons the battery expects (jwtauth's tests check these
// strings equal its constants).
const (
	ReasonMalformed       = "malformed"
	ReasonTooLarge        = "too_large"
	ReasonAlgNotAllowed   = "alg_not_allowed"
	ReasonForbiddenHeader = "forbidden_header"
	ReasonCrit            = "crit"
	ReasonUnknownKey      = "unknown_key"
	ReasonBadSignature    = "bad_signature"
	ReasonType            = "wrong_type"
	ReasonExpired         = "expired"
	ReasonNotYetValid     = "not_yet_valid"
	ReasonIssuedInFuture  = "issued_in_future"
	ReasonMissingClaim    = "missing_claim"
	ReasonBadClaim        = "bad_claim"
	ReasonIssuer          = "wrong_issuer"
	ReasonAudience        = "wrong_audience"
	ReasonBadKey          = "bad_key"
	ReasonDPoPRequired    = "dpop_required"
)

// Battery builds every attack on a token verified against the keys
// ES256 "ec1", EdDSA "ed1" and RS256 "rsa1" (Keys), issuer Issuer and
// audience Audience at Now, typ at+jwt required. Attacks on the key itself
// are in KeyBattery; those needing a DPoP proof are in jwtauth's DPoP tests.
func Battery(t testing.TB) []Case {
	k := Generate(t)
	good := GoodClaims()
	hdr := func(kv ...any) []byte { return MustJSON(t, With(Header(ES256, "ec1"), kv...)) }
	payload := MustJSON(t, good)
	validES := Token(t, ES256, k.EC, "ec1", good)
	parts := strings.Split(validES, ".")

	var cases []Case
	add := func(name, tok string, r string) { cases = append(cases, Case{name, tok, r}) }

	// alg none, in every spelling, with and without a signature.
	for _, spelling := range []string{"none", "None", "NONE", "nOnE"} {
		h := b64.EncodeToString(hdr("alg", spelling))
		p := b64.EncodeToString(payload)
		add("reject/alg-"+spelling+"-unsigned", h+"."+p+".", ReasonAlgNotAllowed)
		add("reject/alg-"+spelling+"-signed", h+"."+p+"."+parts[2], ReasonAlgNotAllowed)
	}
	// Key confusion: HS256 keyed with the RSA public key (PEM and DER).
	der, err := x509.MarshalPKIXPublicKey(&k.RSA.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	add("reject/hs256-keyed-with-rsa-public-pem", Compact(t, HS256, pemKey, MustJSON(t, Header(HS256, "rsa1")), payload), ReasonAlgNotAllowed)
	add("reject/hs256-keyed-with-rsa-public-der", Compact(t, HS256, der, MustJSON(t, Header(HS256, "rsa1")), payload), ReasonAlgNotAllowed)
	// A different key under a trusted kid.
	add("reject/other-key-same-kid", Token(t, ES256, k.ECOther, "ec1", good), ReasonBadSignature)
	// Embedded key and remote key URLs.
	add("reject/embedded-jwk", Compact(t, ES256, k.ECOther, hdr("jwk", map[string]any{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}), payload), ReasonForbiddenHeader)
	add("reject/jku-elsewhere", Compact(t, ES256, k.EC, hdr("jku", "https://evil.example/jwks.json"), payload), ReasonForbiddenHeader)
	add("reject/x5u-elsewhere", Compact(t, ES256, k.EC, hdr("x5u", "https://evil.example/cert.pem"), payload), ReasonForbiddenHeader)
	add("reject/x5c-embedded", Compact(t, ES256, k.EC, hdr("x5c", []string{"MIIB"}), payload), ReasonForbiddenHeader)
	add("reject/kid-path-traversal", Token(t, ES256, k.EC, "../../../../etc/passwd", good), ReasonUnknownKey)
	add("reject/kid-query", Token(t, ES256, k.EC, "ec1?x=../", good), ReasonUnknownKey)
	// Time.
	add("reject/expired", Token(t, ES256, k.EC, "ec1", With(good, "exp", Now.Unix()-31)), ReasonExpired)
	add("reject/not-yet-valid", Token(t, ES256, k.EC, "ec1", With(good, "nbf", Now.Unix()+31)), ReasonNotYetValid)
	add("reject/issued-in-future", Token(t, ES256, k.EC, "ec1", With(good, "iat", Now.Unix()+31)), ReasonIssuedInFuture)
	add("reject/missing-exp", Token(t, ES256, k.EC, "ec1", With(good, "exp", nil)), ReasonMissingClaim)
	add("reject/exp-string", Token(t, ES256, k.EC, "ec1", With(good, "exp", "99999999999")), ReasonBadClaim)
	add("reject/exp-1e19", Token(t, ES256, k.EC, "ec1", With(good, "exp", 1e19)), ReasonBadClaim)
	add("reject/exp-0", Token(t, ES256, k.EC, "ec1", With(good, "exp", 0)), ReasonBadClaim)
	add("reject/exp-negative", Token(t, ES256, k.EC, "ec1", With(good, "exp", -1)), ReasonBadClaim)
	add("reject/exp-null", Token(t, ES256, k.EC, "ec1", With(good, "exp", json0{})), ReasonBadClaim)
	// Identity.
	add("reject/wrong-iss", Token(t, ES256, k.EC, "ec1", With(good, "iss", "https://evil.example")), ReasonIssuer)
	add("reject/iss-prefix", Token(t, ES256, k.EC, "ec1", With(good, "iss", Issuer+".evil.example")), ReasonIssuer)
	add("reject/wrong-aud", Token(t, ES256, k.EC, "ec1", With(good, "aud", "https://other.example")), ReasonAudience)
	add("reject/aud-number", Token(t, ES256, k.EC, "ec1", With(good, "aud", 42)), ReasonBadClaim)
	add("reject/aud-object", Token(t, ES256, k.EC, "ec1", With(good, "aud", map[string]any{"a": Audience})), ReasonBadClaim)
	add("reject/aud-array-of-numbers", Token(t, ES256, k.EC, "ec1", With(good, "aud", []int{1})), ReasonBadClaim)
	add("reject/id-token-as-access-token", Compact(t, ES256, k.EC, hdr("typ", "JWT"), payload), ReasonType)
	add("reject/no-typ", Compact(t, ES256, k.EC, hdr("typ", nil), payload), ReasonType)
	// Header extensions.
	add("reject/unknown-crit", Compact(t, ES256, k.EC, hdr("crit", []string{"exp2"}, "exp2", 1), payload), ReasonCrit)
	add("reject/b64-false", Compact(t, ES256, k.EC, hdr("b64", false, "crit", []string{"b64"}), payload), ReasonCrit)
	add("reject/b64-false-without-crit", Compact(t, ES256, k.EC, hdr("b64", false), payload), ReasonCrit)
	// Encoding.
	dup := []byte(`{"iss":"` + Issuer + `","sub":"user-1","sub":"admin","aud":"` + Audience + `","iat":` + itoa(Now.Unix()) + `,"exp":` + itoa(Now.Unix()+600) + `}`)
	add("reject/duplicate-claims", Compact(t, ES256, k.EC, hdr(), dup), ReasonMalformed)
	dupHdr := []byte(`{"alg":"ES256","kid":"ec1","typ":"at+jwt","alg":"none"}`)
	add("reject/duplicate-header-members", Compact(t, ES256, k.EC, dupHdr, payload), ReasonMalformed)
	// Members that differ only in case: encoding/json folds case when it
	// decodes, case-sensitive consumers do not (one token, two meanings).
	fold := []byte(`{"iss":"` + Issuer + `","sub":"user-1","SUB":"admin","aud":"` + Audience + `","iat":` + itoa(Now.Unix()) + `,"exp":` + itoa(Now.Unix()+600) + `}`)
	add("reject/case-folded-duplicate-claim", Compact(t, ES256, k.EC, hdr(), fold), ReasonMalformed)
	kelvin := []byte(`{"alg":"ES256","kid":"ec1","typ":"at+jwt","\u212aid":"rsa1"}`)
	add("reject/kelvin-sign-kid-header", Compact(t, ES256, k.EC, kelvin, payload), ReasonMalformed)
	add("reject/upper-case-alg-header", Compact(t, ES256, k.EC, []byte(`{"ALG":"ES256","kid":"ec1","typ":"at+jwt"}`), payload), ReasonMalformed)
	add("reject/non-canonical-base64", parts[0]+"."+parts[1]+"."+FlipTrailingBits(parts[2]), ReasonMalformed)
	// Go's base64 decoder skips CR/LF even in strict mode: a newline inside
	// a valid token's signature must not yield an accepted variant.
	add("reject/newline-in-signature", parts[0]+"."+parts[1]+"."+parts[2][:10]+"\n"+parts[2][10:], ReasonMalformed)
	add("reject/cr-in-payload", parts[0]+"."+parts[1][:5]+"\r"+parts[1][5:]+"."+parts[2], ReasonMalformed)
	add("reject/padded-base64", parts[0]+"."+parts[1]+"."+parts[2]+"==", ReasonMalformed)
	add("reject/std-alphabet-base64", parts[0]+"."+parts[1]+"."+strings.NewReplacer("-", "+", "_", "/").Replace(parts[2])+"+/", ReasonMalformed)
	add("reject/oversized-token", parts[0]+"."+b64.EncodeToString(MustJSON(t, With(good, "pad", strings.Repeat("x", 9000))))+"."+parts[2], ReasonTooLarge)
	add("reject/extra-dots", validES+".", ReasonMalformed)
	add("reject/four-parts", parts[0]+"."+parts[1]+"."+parts[2]+"."+parts[2], ReasonMalformed)
	add("reject/two-parts", parts[0]+"."+parts[1], ReasonMalformed)
	add("reject/empty", "", ReasonMalformed)
	add("reject/payload-not-object", Compact(t, ES256, k.EC, hdr(), []byte(`["x"]`)), ReasonMalformed)
	add("reject/trailing-json", Compact(t, ES256, k.EC, hdr(), append(append([]byte{}, payload...), []byte(` {}`)...)), ReasonMalformed)
	// Signatures.
	sig, _ := b64.DecodeString(parts[2])
	add("reject/truncated-signature", parts[0]+"."+parts[1]+"."+b64.EncodeToString(sig[:len(sig)-1]), ReasonBadSignature)
	add("reject/empty-signature", parts[0]+"."+parts[1]+".", ReasonBadSignature)
	add("reject/ecdsa-r-s-zero", parts[0]+"."+parts[1]+"."+b64.EncodeToString(make([]byte, 64)), ReasonBadSignature)
	add("reject/ecdsa-der-signature", parts[0]+"."+parts[1]+"."+b64.EncodeToString(append([]byte{0x30, 0x44}, sig...)), ReasonBadSignature)
	add("reject/tampered-payload", parts[0]+"."+b64.EncodeToString(MustJSON(t, With(good, "sub", "admin")))+"."+parts[2], ReasonBadSignature)
	// Header alg differs from the key's alg (RSA key, PS256 header).
	add("reject/alg-differs-from-key", Compact(t, PS256, k.RSA, MustJSON(t, Header(PS256, "rsa1")), payload), ReasonAlgNotAllowed)
	add("reject/eddsa-header-on-ec-key", Compact(t, EdDSA, k.Ed, MustJSON(t, Header(EdDSA, "ec1")), payload), ReasonAlgNotAllowed)
	// A DPoP-bound token (cnf.jkt, RFC 9449 §6.1) presented without its
	// proof, as a bearer token (RFC 9449 §7.1).
	add("reject/dpop-bound-token-as-bearer", Token(t, ES256, k.EC, "ec1", With(good, "cnf", map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"})), ReasonDPoPRequired)
	return cases
}

// KeyCase is an attack through the verification key: JWK is a single JWK
// (JSON) offered as the issuer's key and Token a token that would verify
// with it. Reason is why the key (or, when the key itself is sound, the
// token) must be refused.
type KeyCase struct {
	Name   string
	JWK    string
	Token  string
	Reason string
}

// KeyBattery builds the attacks on the key policy: a short RSA key, a key
// for encryption, a JWK whose alg differs from the token's, private key
// material, an HMAC (oct) key, an EC point off its curve.
func KeyBattery(t testing.TB) []KeyCase {
	t.Helper()
	k := Generate(t)
	good := GoodClaims()
	jwk := func(key any, kid, alg, use string) string {
		t.Helper()
		return string(MustJSON(t, jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg, Use: use}))
	}
	// The same public point with y changed: off the curve (invalid-curve attack).
	var off map[string]any
	if err := json.Unmarshal([]byte(jwk(&k.ECOther.PublicKey, "off", ES256, "")), &off); err != nil {
		t.Fatal(err)
	}
	y, err := b64.DecodeString(off["y"].(string))
	if err != nil {
		t.Fatal(err)
	}
	y[len(y)-1] ^= 1
	off["y"] = b64.EncodeToString(y)
	secret := []byte("0123456789abcdef0123456789abcdef")
	return []KeyCase{
		{"reject/rsa-1024-key", jwk(&k.RSAWeak.PublicKey, "weak", RS256, "sig"), Token(t, RS256, k.RSAWeak, "weak", good), ReasonBadKey},
		{"reject/jwk-use-enc", jwk(&k.RSA.PublicKey, "rsa1", RS256, "enc"), Token(t, RS256, k.RSA, "rsa1", good), ReasonBadKey},
		{"reject/jwk-private-material", jwk(k.EC, "ec1", ES256, "sig"), Token(t, ES256, k.EC, "ec1", good), ReasonBadKey},
		{"reject/jwk-oct-hmac-key", jwk(secret, "h1", HS256, "sig"), Token(t, HS256, secret, "h1", good), ReasonBadKey},
		{"reject/jwk-ec-off-curve", string(MustJSON(t, off)), Token(t, ES256, k.ECOther, "off", good), ReasonBadKey},
		// The key is sound (RS256); the token claims PS256 with a valid
		// PS256 signature by the same RSA key: the key's alg wins.
		{"reject/header-alg-differs-from-jwk-alg", jwk(&k.RSA.PublicKey, "rsa1", RS256, "sig"), Compact(t, PS256, k.RSA, MustJSON(t, Header(PS256, "rsa1")), MustJSON(t, good)), ReasonAlgNotAllowed},
	}
}

// json0 marshals as JSON null.
type json0 struct{}

func (json0) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// FlipTrailingBits changes the last base64url character so its unused low
// bits are non-zero: the same bytes, a non-canonical encoding.
func FlipTrailingBits(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last|1])
}
