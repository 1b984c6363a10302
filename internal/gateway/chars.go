package gateway

import "strings"

// vchars reports whether every byte of s is an RFC 9110 §5.5 VCHAR
// (0x21-0x7E): no space, control byte (CR, LF, NUL), DEL or non-ASCII, so
// a value cannot split a header or smuggle a second one. The empty string
// passes; callers that need a value check for it.
func vchars(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// visibleASCII reports whether s is 1 to maxLen VCHAR bytes.
func visibleASCII(s string, maxLen int) bool {
	return s != "" && len(s) <= maxLen && vchars(s)
}

// scopeToken reports whether s is an RFC 6749 §3.3 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ), so not empty and no space, '"' or '\'.
func scopeToken(s string) bool {
	return s != "" && vchars(s) && !strings.ContainsAny(s, `"\`)
}
