package main

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// TestTokenLimitsFromConfig: the real serve applies rate_limits.token_per_ip
// in front of client authentication (unknown clients, no secret checked)
// and client_auth_failures_per_ip to one client id's wrong secrets.
func TestTokenLimitsFromConfig(t *testing.T) {
	post := func(base, id, secret string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"/oauth2/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	t.Run("reject/token-per-ip", func(t *testing.T) {
		base, _ := authServer(t, "rate_limits: {token_per_ip: {rate: 1, period: 1h, burst: 3}}\n")
		var codes []int
		for _, id := range []string{"a", "b", "c", "d"} {
			codes = append(codes, post(base, id, "wrong-0123456789abcdefghijklmnopqrstu").StatusCode)
		}
		if fmt.Sprint(codes) != "[401 401 401 429]" {
			t.Fatalf("statuses %v, want [401 401 401 429]", codes)
		}
	})
	t.Run("reject/client-auth-failures-per-ip", func(t *testing.T) {
		extra := "rate_limits: {client_auth_failures_per_ip: {rate: 1, period: 1h, burst: 2}}\n"
		if u := os.Getenv("RAMPART_TEST_REDIS_URL"); u != "" {
			// Fleet-wide on Redis: the budget is read without spending it
			// (a cost above the burst), which the store answers exactly.
			extra += fmt.Sprintf("redis: {url: '%s'}\n", u)
		}
		base, _ := authServer(t, extra)
		victim := fmt.Sprintf("victim%d", time.Now().UnixNano()) // Redis outlives test runs
		var codes []int
		for i := 0; i < 3; i++ {
			codes = append(codes, post(base, victim, "wrong-0123456789abcdefghijklmnopqrstu").StatusCode)
		}
		resp := post(base, victim, "wrong-0123456789abcdefghijklmnopqrstu")
		codes = append(codes, resp.StatusCode)
		if fmt.Sprint(codes) != "[401 401 429 429]" || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("statuses %v, want [401 401 429 429] with Retry-After", codes)
		}
		if st := post(base, victim+"-other", "wrong-0123456789abcdefghijklmnopqrstu").StatusCode; st != http.StatusUnauthorized {
			t.Fatalf("another client id from the same address: %d, want 401", st)
		}
	})
}
