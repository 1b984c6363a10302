package identity

import "strings"

// OTPKind is what a second-factor input is.
type OTPKind int

// Kinds of ParseOTPInput.
const (
	OTPKindInvalid  OTPKind = iota
	OTPKindTOTP             // six digits
	OTPKindRecovery         // 16 base32 characters
)

// maxOTPInput bounds the text parsed: a recovery code with separators is
// 19 characters; anything much longer is not one of ours.
const maxOTPInput = 64

// ParseOTPInput classifies the form's otp input and normalizes it: spaces
// and dashes (which people type and apps show inside codes) are dropped,
// letters upper-cased. Six ASCII digits are a TOTP code; sixteen RFC 4648
// base32 characters are a recovery code; anything else is invalid. Only
// ASCII is accepted, so no Unicode digit or case folding can make two
// inputs normalize to one code.
func ParseOTPInput(s string) (OTPKind, string) {
	if len(s) > maxOTPInput {
		return OTPKindInvalid, ""
	}
	var b strings.Builder
	digits := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '-' || c == '\t':
			continue
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
			digits = false
		case c >= 'A' && c <= 'Z':
			digits = false
		default:
			return OTPKindInvalid, ""
		}
		b.WriteByte(c)
	}
	n := b.String()
	switch {
	case len(n) == TOTPDigits && digits:
		return OTPKindTOTP, n
	case len(n) == 16 && isBase32(n):
		return OTPKindRecovery, n
	}
	return OTPKindInvalid, ""
}

func isBase32(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}
