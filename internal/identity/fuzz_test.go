package identity

import (
	"strings"
	"testing"
)

// FuzzParseOTPInput: any text of the login form's otp input classifies
// without panicking; a TOTP code is exactly six ASCII digits, a recovery
// code sixteen base32 characters; the normal form parses to itself (so two
// spellings of one code are one code) and overlong input is refused.
func FuzzParseOTPInput(f *testing.F) {
	for _, s := range []string{"123456", " 123 456 ", "abcd-efgh-ijkl-mnop", "ABCDEFGHIJKLMNOP", "", "١٢٣٤٥٦", "12345\x00", strings.Repeat("-", 70), "2222-2222-2222-222Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		k, n := ParseOTPInput(in)
		switch k {
		case OTPKindInvalid:
			if n != "" {
				t.Fatalf("invalid input with a normal form %q", n)
			}
			return
		case OTPKindTOTP:
			if len(n) != TOTPDigits || strings.Trim(n, "0123456789") != "" {
				t.Fatalf("TOTP code %q", n)
			}
		case OTPKindRecovery:
			if len(n) != 16 || !isBase32(n) {
				t.Fatalf("recovery code %q", n)
			}
		}
		if len(in) > maxOTPInput {
			t.Fatalf("accepted %d bytes", len(in))
		}
		if k2, n2 := ParseOTPInput(n); k2 != k || n2 != n {
			t.Fatalf("normal form %q parses to %v %q", n, k2, n2)
		}
	})
}
