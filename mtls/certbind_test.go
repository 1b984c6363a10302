package mtls

import (
	"strings"
	"testing"
)

// TestCertThumbprint: RFC 8705 §3.1's x5t#S256 is base64url (no padding)
// of SHA-256 over the DER; CnfX5tS256 reads only a well-formed one.
func TestCertThumbprint(t *testing.T) {
	ca := newTestCA(t, "example.test", true)
	der := ca.leaf(t, leafSpec{uris: []string{"spiffe://example.test/svc/orders"}}).Certificate[0]
	tp := CertThumbprint(der)
	if len(tp) != 43 || strings.ContainsAny(tp, "+/=") {
		t.Fatalf("thumbprint %q", tp)
	}
	for _, tc := range []struct {
		name, payload string
		ok            bool
	}{
		{"accept/bound", `{"cnf":{"x5t#S256":"` + tp + `"}}`, true},
		{"accept/bound-beside-jkt", `{"cnf":{"jkt":"x","x5t#S256":"` + tp + `"}}`, true},
		{"reject/no-cnf", `{"sub":"a"}`, false},
		{"reject/cnf-string", `{"cnf":"` + tp + `"}`, false},
		{"reject/cnf-null", `{"cnf":null}`, false},
		{"reject/padded", `{"cnf":{"x5t#S256":"` + tp[:42] + `="}}`, false},
		{"reject/std-alphabet", `{"cnf":{"x5t#S256":"` + strings.NewReplacer("-", "+", "_", "/").Replace(tp[:42]) + `+"}}`, false},
		{"reject/sha1-x5t", `{"cnf":{"x5t":"` + tp + `"}}`, false},
		{"reject/number", `{"cnf":{"x5t#S256":1}}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := CnfX5tS256([]byte(tc.payload))
			if ok != tc.ok || ok && got != tp {
				t.Errorf("CnfX5tS256 = %q, %v", got, ok)
			}
			if TokenBoundToCert([]byte(tc.payload), der) != tc.ok {
				t.Errorf("TokenBoundToCert = %v", !tc.ok)
			}
		})
	}
}
