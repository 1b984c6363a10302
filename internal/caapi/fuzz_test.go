package caapi

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
)

// FuzzDecodeRequest: no body panics the enrolment parser, and a body it
// accepts is one JSON object whose only member is csr, a single PEM
// CERTIFICATE REQUEST block whose bytes are what it returned.
func FuzzDecodeRequest(f *testing.F) {
	csr := testCSR(f, "spiffe://example.org/svc/a")
	good, _ := json.Marshal(map[string]string{"csr": csr})
	for _, s := range []string{
		string(good), "", "{}", "[]", "null", `{"csr":1}`, `{"csr":"x","csr":"y"}`, `{"csr":"` + strings.Repeat("A", 100) + `"}`,
		string(good) + "{}", `{"csr":"-----BEGIN CERTIFICATE REQUEST-----\nAA==\n-----END CERTIFICATE REQUEST-----\n"}`,
		`{"csr":"-----BEGIN X-----\n!\n-----BEGIN CERTIFICATE REQUEST-----\nAA==\n-----END CERTIFICATE REQUEST-----"}`,
		`{"csr":"\u0000"}`, `{"a":{"b":[1,2,{"c":null}]}}`, `{"csr":"` + strings.Repeat(`\ud800`, 10) + `"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		der, err := decodeRequest(body)
		if err != nil {
			if _, ok := err.(errBadRequest); !ok {
				t.Fatalf("error %T is not a public bad-request error", err)
			}
			return
		}
		var m map[string]any
		if json.Unmarshal(body, &m) != nil || len(m) != 1 {
			t.Fatalf("accepted %q, not a one-member object", body)
		}
		s, ok := m["csr"].(string)
		if !ok {
			t.Fatalf("accepted %q without a string csr", body)
		}
		b, _ := pem.Decode([]byte(s))
		if b == nil || b.Type != "CERTIFICATE REQUEST" || string(b.Bytes) != string(der) {
			t.Fatalf("accepted %q: returned bytes are not the block's", body)
		}
		_, _ = x509.ParseCertificateRequest(der) // the CA parses it next; must not panic either
	})
}

// FuzzParseAuthorization: no header panics the credential parser; a
// Bearer token it accepts is a bounded b64token, and several headers are
// always refused.
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{"", "Bearer rjt1.a.b", "bearer x", "Basic c3ZjOnM=", "Bearer", "Bearer  x", "Bearer a==", "Bearer =a", "Digest a", "Bearer \x00", "BEARER a b"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, h string, twice bool) {
		values := []string{h}
		if twice {
			values = append(values, h)
		}
		kind, token, err := parseAuthorization(values)
		if twice && err == nil {
			t.Fatal("two Authorization headers accepted")
		}
		if err != nil {
			return
		}
		if kind == authBearer && (token == "" || len(token) > maxTokenLen || !b64token(token) || strings.ContainsAny(token, " \t\r\n\x00")) {
			t.Fatalf("accepted bearer token %q", token)
		}
	})
}
