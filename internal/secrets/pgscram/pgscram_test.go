package pgscram

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
)

var verifierRE = regexp.MustCompile(`^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$`)

func TestSCRAMVerifier(t *testing.T) {
	// RFC 7677 §3's exchange: user "user", password "pencil", salt
	// W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations. A verifier is right when
	// its ServerKey signs the exchange as the RFC's server did and its
	// StoredKey is the hash of the key under the RFC client's proof.
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	v, err := Verifier([]byte("pencil"), salt)
	if err != nil {
		t.Fatal(err)
	}
	if !verifierRE.MatchString(v) || !LiteralSafe(v) {
		t.Fatalf("verifier shape: %s", v)
	}
	if strings.Contains(v, "pencil") {
		t.Fatal("the verifier holds the password")
	}
	keys := strings.Split(v[strings.LastIndex(v, "$")+1:], ":")
	stored, _ := base64.StdEncoding.DecodeString(keys[0])
	server, _ := base64.StdEncoding.DecodeString(keys[1])
	authMessage := "n=user,r=rOprNGfwEbeRWgbNEkqO," +
		"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096," +
		"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	if got := base64.StdEncoding.EncodeToString(hmacSHA256(server, authMessage)); got != "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=" {
		t.Fatalf("ServerSignature %s", got)
	}
	proof, _ := base64.StdEncoding.DecodeString("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
	sig := hmacSHA256(stored, authMessage)
	clientKey := make([]byte, len(proof))
	for i := range proof {
		clientKey[i] = proof[i] ^ sig[i]
	}
	if h := sha256.Sum256(clientKey); !bytes.Equal(h[:], stored) {
		t.Fatal("StoredKey does not verify the RFC client's proof")
	}
	for _, s := range []string{"", "a'b", `a\b`, "a b", "a;b", `a"b`} {
		if LiteralSafe(s) {
			t.Errorf("LiteralSafe(%q)", s)
		}
	}
}

// TestLiteral: a fresh salt each time, a quoted safe literal, never the
// password; a non-ASCII password is refused.
func TestLiteral(t *testing.T) {
	a, err := Literal(nil, []byte("pw-of-the-test"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Literal(nil, []byte("pw-of-the-test"))
	if err != nil {
		t.Fatal(err)
	}
	if a == b || !strings.HasPrefix(a, "'SCRAM-SHA-256$4096:") || !strings.HasSuffix(a, "'") || strings.Contains(a, "pw-of-the-test") || !LiteralSafe(a[1:len(a)-1]) {
		t.Fatalf("literals %s %s", a, b)
	}
	for _, pw := range []string{"caf\u00e9", "a b", "a'b\x00"} {
		if _, err := Literal(nil, []byte(pw)); err == nil {
			t.Errorf("Literal(%q) accepted", pw)
		}
	}
}

// BenchmarkVerifier: the client-side cost of keeping the plaintext off
// the server (4096 PBKDF2-HMAC-SHA-256 iterations).
func BenchmarkVerifier(b *testing.B) {
	pw := []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	salt := make([]byte, 16)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verifier(pw, salt); err != nil {
			b.Fatal(err)
		}
	}
}
