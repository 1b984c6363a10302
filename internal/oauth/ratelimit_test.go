package oauth_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/ratelimit"
)

type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return nil
}

func (s *sleeps) take() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.d
	s.d = nil
	return out
}

func loginLimiter(t testing.TB, ipBurst, userBurst int64) *ratelimit.Limiter {
	l, err := ratelimit.NewLimiter(ratelimit.NewMemoryStore(nil),
		ratelimit.Limit{Name: "ip", Rate: 1, Period: time.Hour, Burst: ipBurst},
		ratelimit.Limit{Name: "username", Rate: 1, Period: time.Hour, Burst: userBurst})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// attempt posts one login and returns the page.
func (e *env) attempt(username, password string, headers ...string) page {
	b := e.browser()
	f := hidden(b.get(oauth.PathLogin).body)
	f.Set("username", username)
	f.Set("password", password)
	return b.post(oauth.PathLogin, f, headers...)
}

// TestAttackLoginBruteForce: guessing one account slows down after half
// the budget and then locks the name, the same way whether or not the
// account exists; the lock holds even for the right password.
func TestAttackLoginBruteForce(t *testing.T) {
	sl := &sleeps{}
	e := newEnvOpts(t, "sqlite", func(o *oauth.Options) {
		o.LoginLimiter = loginLimiter(t, 1000, 4)
		o.Sleep = sl.sleep
	})
	run := func(name string) ([]int, []time.Duration, string) {
		var codes []int
		var last string
		for i := 0; i < 4; i++ {
			p := e.attempt(name, "wrong password guess")
			codes = append(codes, p.status)
		}
		p := e.attempt(name, userPass) // even the right password
		codes = append(codes, p.status)
		last = p.body
		if p.status == http.StatusTooManyRequests && p.header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
		return codes, sl.take(), last
	}
	codes, delays, body := run(userName)
	want := []int{401, 401, 401, 401, 429}
	if !equalInts(codes, want) || !strings.Contains(body, "Too many sign-in attempts") {
		t.Fatalf("existing user: statuses %v, want %v", codes, want)
	}
	if len(delays) != 2 || delays[0] != time.Second || delays[1] != 2*time.Second {
		t.Fatalf("progressive delays %v, want [1s 2s]", delays)
	}
	codes2, delays2, _ := run("nobody-here")
	if !equalInts(codes2, want) || len(delays2) != len(delays) {
		t.Fatalf("unknown user behaves differently: %v %v vs %v %v", codes2, delays2, codes, delays)
	}
	// Case changes do not escape the lock.
	if p := e.attempt(strings.ToUpper(userName), userPass); p.status != http.StatusTooManyRequests {
		t.Fatalf("upper-case username bypassed the lock: %d", p.status)
	}
	n := 0
	for _, ev := range e.events("auth.login") {
		if ev.Reason == "locked_username" {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("%d lockout refusals audited, want 3", n)
	}
}

// TestAttackLoginSprayPerIP: one address trying many usernames is stopped
// by the per-address limit, and a forged X-Forwarded-For does not help.
func TestAttackLoginSprayPerIP(t *testing.T) {
	e := newEnvOpts(t, "sqlite", func(o *oauth.Options) { o.LoginLimiter = loginLimiter(t, 3, 100) })
	for i, name := range []string{"a1", "a2", "a3"} {
		if p := e.attempt(name, "pw-guess-123456"); p.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, p.status)
		}
	}
	for _, fake := range []string{"1.2.3.4", "5.6.7.8"} {
		if p := e.attempt("a4", "pw-guess-123456", "X-Forwarded-For", fake); p.status != http.StatusTooManyRequests {
			t.Fatalf("spoofed X-Forwarded-For %s got %d", fake, p.status)
		}
	}
}

// TestTokenEndpointPerClientLimit: a client over its budget gets 429 with
// Retry-After; other clients are unaffected, and failed authentications
// with its id do not spend its budget.
func TestTokenEndpointPerClientLimit(t *testing.T) {
	e := newEnvOpts(t, "sqlite", func(o *oauth.Options) {
		l, err := ratelimit.NewLimiter(ratelimit.NewMemoryStore(nil), ratelimit.Limit{Name: "client", Rate: 1, Period: time.Hour, Burst: 2})
		if err != nil {
			t.Fatal(err)
		}
		o.TokenLimiter = l
	})
	cc := url.Values{"grant_type": {"client_credentials"}}
	for i := 0; i < 5; i++ { // an attacker sending svc's id with a wrong secret
		e.tokenRequest(cc, svcID, "wrong-secret-0123456789abcdefghijklmnop")
	}
	for i := 0; i < 2; i++ {
		if st, body, _ := e.tokenRequest(cc, svcID, svcSecret); st != http.StatusOK {
			t.Fatalf("request %d: %d %v", i, st, body)
		}
	}
	st, body, h := e.tokenRequest(cc, svcID, svcSecret)
	if st != http.StatusTooManyRequests || str(body, "error") != "too_many_requests" || h.Get("Retry-After") == "" || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("over the limit: %d %v %v", st, body, h)
	}
	if st, _, _ := e.tokenRequest(cc, "introspector", otherSecret); st != http.StatusOK {
		t.Fatalf("another client was limited: %d", st)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
