package oauth_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/oauth"
)

// BenchmarkDevicePoll is a device's poll of the token endpoint while the
// user has not decided (go test -run '^$' -bench 'DevicePoll|NormalizeUserCode'
// -benchmem ./internal/oauth/): every poll of every waiting device is one
// locked read and one write of its row on SQLite, through the real handler
// chain. The answer is slow_down after the first (the benchmark polls
// faster than the interval); the cost is the same as
// authorization_pending.
func BenchmarkDevicePoll(b *testing.B) {
	e := newEnv(b, "sqlite")
	h := e.srv.Config.Handler
	st, body := e.deviceStart(tvID, "", "notes:read")
	if st != http.StatusOK {
		b.Fatalf("device authorization %d %v", st, body)
	}
	form := url.Values{"grant_type": {oauth.GrantDeviceCode}, "device_code": {str(body, "device_code")}, "client_id": {tvID}}.Encode()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, e.issuer+oauth.PathToken, strings.NewReader(form))
		req.RemoteAddr = "192.0.2.1:1234"
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkNormalizeUserCode parses a typed user code (every device page
// post does).
func BenchmarkNormalizeUserCode(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := oauth.NormalizeUserCode("bcdf-ghjk"); err != nil {
			b.Fatal(err)
		}
	}
}
