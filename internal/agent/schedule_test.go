package agent

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/testkit"
)

// fakeSVID is an svid whose lifetime runs from start to start+life.
func fakeSVID(start time.Time, life time.Duration) *svid {
	return &svid{start: start, cert: &tls.Certificate{Leaf: &x509.Certificate{NotBefore: start.Add(-time.Minute), NotAfter: start.Add(life)}}}
}

func TestRenewAt(t *testing.T) {
	start := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	s := fakeSVID(start, time.Hour)
	for _, tc := range []struct {
		name   string
		jitter float64
		want   time.Duration
	}{
		{"jitter/lowest", 0, 27 * time.Minute},
		{"jitter/middle", 0.5, 30 * time.Minute},
		{"jitter/highest", 0.999999, 33 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := renewAt(s, tc.jitter).Sub(start)
			if d := got - tc.want; d < -time.Second || d > time.Second {
				t.Fatalf("renewAt = start+%s, want start+%s", got, tc.want)
			}
		})
	}
}

// TestRenewAtIgnoresBackdate: the CA backdates NotBefore a minute; a 10 s
// SVID is renewed 5 s after it arrived, not at once.
func TestRenewAtIgnoresBackdate(t *testing.T) {
	clock := testkit.NewClock(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	s := &svid{cert: &tls.Certificate{Leaf: &x509.Certificate{NotBefore: clock.Now().Add(-time.Minute), NotAfter: clock.Now().Add(10 * time.Second)}}}
	s.start = later(s.cert.Leaf.NotBefore, clock.Now())
	if got := renewAt(s, 0.5).Sub(clock.Now()); got != 5*time.Second {
		t.Fatalf("renew in %s, want 5s", got)
	}
}

func TestExpiring(t *testing.T) {
	clock := testkit.NewClock(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	s := fakeSVID(clock.Now(), 100*time.Second)
	for _, tc := range []struct {
		name  string
		at    time.Duration
		wants bool
	}{
		{"fresh", 0, false},
		{"half", 50 * time.Second, false},
		{"just-before-quarter", 74 * time.Second, false},
		{"quarter-left", 75 * time.Second, true},
		{"expired", 101 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock.Set(s.start.Add(tc.at))
			if got := expiring(s, clock.Now()); got != tc.wants {
				t.Fatalf("expiring at +%s = %v", tc.at, got)
			}
		})
	}
}

func TestRetryDelay(t *testing.T) {
	for _, tc := range []struct {
		name     string
		n        int
		life     time.Duration
		hint     time.Duration
		jitter   float64
		min, max time.Duration
	}{
		{"first/1h", 0, time.Hour, 0, 0, 500 * time.Millisecond, 500 * time.Millisecond},
		{"first/1h-jitter", 0, time.Hour, 0, 0.999, 999 * time.Millisecond, time.Second},
		{"grows", 3, time.Hour, 0, 0, 4 * time.Second, 4 * time.Second},
		{"capped/1h", 30, time.Hour, 0, 0.999, 59 * time.Second, time.Minute},
		{"capped/10s-life", 30, 10 * time.Second, 0, 0.999, 499 * time.Millisecond, 500 * time.Millisecond},
		{"capped/2s-life-floor", 30, 2 * time.Second, 0, 0, 50 * time.Millisecond, 100 * time.Millisecond},
		{"no-svid", 30, 0, 0, 0, 30 * time.Second, 30 * time.Second},
		{"hint/raises", 0, time.Hour, 10 * time.Second, 0, 10 * time.Second, 10 * time.Second},
		{"hint/capped", 0, 10 * time.Second, time.Hour, 0, 500 * time.Millisecond, 500 * time.Millisecond},
		{"huge-n", 1 << 30, time.Hour, 0, 0, 30 * time.Second, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := retryDelay(tc.n, tc.life, tc.hint, tc.jitter)
			if got < tc.min || got > tc.max {
				t.Fatalf("retryDelay = %s, want %s..%s", got, tc.min, tc.max)
			}
		})
	}
}

func TestRefreshEvery(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		crl  *x509.RevocationList
		want time.Duration
	}{
		{"none", nil, time.Minute},
		{"10m-validity", &x509.RevocationList{ThisUpdate: now, NextUpdate: now.Add(10 * time.Minute)}, time.Minute},
		{"1m-validity", &x509.RevocationList{ThisUpdate: now, NextUpdate: now.Add(time.Minute)}, 15 * time.Second},
		{"10s-validity", &x509.RevocationList{ThisUpdate: now, NextUpdate: now.Add(10 * time.Second)}, 2500 * time.Millisecond},
		{"tiny-validity", &x509.RevocationList{ThisUpdate: now, NextUpdate: now.Add(time.Millisecond)}, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := refreshEvery(tc.crl); got != tc.want {
				t.Fatalf("refreshEvery = %s, want %s", got, tc.want)
			}
		})
	}
}
