package mtls

import (
	"encoding/base64"
	"testing"
)

// FuzzCnfX5tS256: any token payload is read without panicking, and a
// thumbprint is returned only when it is exactly a base64url SHA-256
// digest (43 characters, no padding, 32 bytes), so a malformed cnf can
// never be compared as a binding.
func FuzzCnfX5tS256(f *testing.F) {
	for _, s := range []string{
		`{"cnf":{"x5t#S256":"bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}}`,
		`{"cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}`,
		`{"cnf":{"x5t#S256":"bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2="}}`,
		`{"cnf":{"x5t#S256":null}}`,
		`{"cnf":[1,2]}`,
		`{"cnf":{"x5t#S256":"a","x5t#S256":"b"}}`,
		`{"cnf":{"x5t#S256":"\u0062wcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}}`,
		`[]`, ``, `{"cnf":`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		v, ok := CnfX5tS256(payload)
		if !ok {
			if v != "" {
				t.Fatalf("not bound, but returned %q", v)
			}
			return
		}
		raw, err := base64.RawURLEncoding.Strict().DecodeString(v)
		if err != nil || len(raw) != 32 || len(v) != x5tS256Len {
			t.Fatalf("accepted %q: %d bytes, %v", v, len(raw), err)
		}
		if TokenBoundToCert(payload, nil) {
			t.Fatal("bound to no certificate")
		}
	})
}
