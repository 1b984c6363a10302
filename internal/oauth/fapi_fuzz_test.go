package oauth

import (
	"encoding/base64"
	"strings"
	"testing"
)

// FuzzJWSAlg: the header reader of DPoP proofs (jwsAlg, for the fapi2
// algorithm check) never panics, never reads a header over its bound, and
// finds an alg only in a base64url JSON header before a dot.
func FuzzJWSAlg(f *testing.F) {
	for _, s := range []string{"", ".", "eyJhbGciOiJFUzI1NiJ9.e30.sig", "eyJhbGciOjF9..", "!!!.x", "e30", strings.Repeat("A", maxJWSHeader+4) + ".x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		alg := jwsAlg(s)
		if alg == "" {
			return
		}
		head, _, ok := strings.Cut(s, ".")
		if !ok || len(head) > maxJWSHeader {
			t.Fatalf("alg %q from %q", alg, s)
		}
		if _, err := base64.RawURLEncoding.DecodeString(head); err != nil {
			t.Fatalf("alg %q from an undecodable header %q", alg, head)
		}
	})
}

// TestJWSAlg: the alg of a real header; nothing from a malformed one.
func TestJWSAlg(t *testing.T) {
	for in, want := range map[string]string{
		"eyJhbGciOiJFUzI1NiJ9.e30.sig": "ES256",
		"eyJhbGciOiJSUzI1NiJ9.e30.sig": "RS256",
		"eyJhbGciOjF9..":               "",
		"eyJhbGciOiJFUzI1NiJ9":         "",
		"!!!.x":                        "",
	} {
		if got := jwsAlg(in); got != want {
			t.Errorf("jwsAlg(%q) = %q, want %q", in, got, want)
		}
	}
}
