package identity

import (
	"testing"
	"time"
)

// BenchmarkParseOTPInput is the parse of every second-factor post.
func BenchmarkParseOTPInput(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		ParseOTPInput("abcd-efgh-ijkl-mnop")
	}
}

// BenchmarkTOTPMatchStep is the code check of every second-factor post:
// three HMAC-SHA-1 codes (the ±1 step window), compared in constant time.
func BenchmarkTOTPMatchStep(b *testing.B) {
	m := NewMFA(nil, nil, "Rampart", func() time.Time { return time.Unix(1_800_000_000, 0) }, nil)
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	b.ReportAllocs()
	for b.Loop() {
		m.matchStep(secret, "123456")
	}
}
