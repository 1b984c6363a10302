package agent

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/mtls"
)

// FuzzDecodeSVIDResponse: the enrolment answer decoder never panics, and
// what it accepts is self-consistent (the ID is the leaf's one URI SAN,
// expires_at its NotAfter, PEM re-encodings parse back).
func FuzzDecodeSVIDResponse(f *testing.F) {
	ca := newFakeCA(f, testTD)
	r, _ := goodResponse(f, ca, svcA, nil)
	good, _ := json.Marshal(r)
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"spiffe_id":"spiffe://example.test/a","svid":"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"}`))
	f.Add([]byte(strings.Replace(string(good), "CERTIFICATE", "X509 CRL", 1)))
	f.Fuzz(func(t *testing.T, body []byte) {
		iss, err := decodeSVIDResponse(body)
		if err != nil {
			return
		}
		id, err := mtls.IDFromCert(iss.chain[0])
		if err != nil || id != iss.id {
			t.Fatalf("accepted an answer whose leaf is %v (%v), spiffe_id %s", id, err, iss.id)
		}
		if len(iss.chain) > maxChainCerts || len(iss.bundle) == 0 || len(iss.bundle) > maxBundleCerts || iss.crl == nil {
			t.Fatal("accepted an answer outside the bounds")
		}
		if _, err := parseCertsPEM(iss.chainPEM, maxChainCerts); err != nil {
			t.Fatalf("re-encoded chain does not parse: %v", err)
		}
		if _, err := parseCRLPEM(iss.crlPEM); err != nil {
			t.Fatalf("re-encoded CRL does not parse: %v", err)
		}
	})
}

// FuzzParseJoinToken: the join token parser never panics and accepts only
// rjt1.<32 bytes>.<32 bytes>.
func FuzzParseJoinToken(f *testing.F) {
	f.Add("rjt1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("rjt1..")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		pin, err := parseJoinToken(tok)
		if err != nil {
			return
		}
		if len(pin) != 32 || !strings.HasPrefix(tok, "rjt1.") || strings.Count(tok, ".") != 2 {
			t.Fatalf("accepted %q", tok)
		}
	})
}
