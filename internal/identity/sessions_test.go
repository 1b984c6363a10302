package identity_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/store"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

var start = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

// signIn starts a session for userID and returns the request that carries
// its cookie.
func signIn(t *testing.T, m *identity.Sessions, userID, ua string) (*identity.Session, *http.Request) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/login", nil)
	req.Header.Set("User-Agent", ua)
	rec := httptest.NewRecorder()
	s, err := m.Start(context.Background(), rec, req, userID)
	if err != nil {
		t.Fatal(err)
	}
	next := httptest.NewRequest(http.MethodGet, "/account", nil)
	for _, c := range rec.Result().Cookies() {
		next.AddCookie(c)
	}
	return s, next
}

type recorder struct{ events []audit.Event }

func (r *recorder) Record(_ context.Context, e audit.Event) error {
	r.events = append(r.events, e)
	return nil
}

func newSessions(t *testing.T, driver string, clock *testkit.Clock) (*identity.Sessions, *storetest.Store) {
	st := storetest.Open(t, driver)
	if err := st.CreateUser(context.Background(), &identity.User{ID: "u1", Username: "alice", PasswordHash: "x", CreatedAt: start, UpdatedAt: start}); err != nil {
		t.Fatal(err)
	}
	return identity.NewSessionsWith(identity.SessionOptions{Store: st, TTL: 2 * time.Hour, IdleTTL: 30 * time.Minute, Now: clock.Now}), st
}

// TestSessionIdleTimeout: a session unused for the idle timeout is refused
// and deleted; one used every 20 minutes lives on (until the absolute end).
func TestSessionIdleTimeout(t *testing.T) {
	for _, d := range storetest.Drivers(t) {
		t.Run(d, func(t *testing.T) {
			clock := testkit.NewClock(start)
			st := storetest.Open(t, d)
			rec := &recorder{}
			m := identity.NewSessionsWith(identity.SessionOptions{Store: st, TTL: 2 * time.Hour, IdleTTL: 30 * time.Minute, Now: clock.Now, Audit: rec})
			ctx := context.Background()
			s, req := signIn(t, m, "u1", "test-browser")
			for i := 0; i < 4; i++ { // 80 minutes of activity, never 30 idle
				clock.Add(20 * time.Minute)
				if _, err := m.Get(ctx, req); err != nil {
					t.Fatalf("active session refused after %d uses: %v", i, err)
				}
			}
			clock.Add(30 * time.Minute)
			if _, err := m.Get(ctx, req); !errors.Is(err, identity.ErrNoSession) {
				t.Fatalf("idle session accepted: %v", err)
			}
			if _, err := st.GetSession(ctx, s.IDHash); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("idle session not deleted: %v", err)
			}
			if len(rec.events) != 1 || rec.events[0].Action != audit.ActionSessionEnd || rec.events[0].Reason != "idle_timeout" {
				t.Fatalf("timeout not audited: %+v", rec.events)
			}
		})
	}
}

// TestSessionAbsoluteTimeout: a session kept busy still ends at its
// absolute lifetime.
func TestSessionAbsoluteTimeout(t *testing.T) {
	for _, d := range storetest.Drivers(t) {
		t.Run(d, func(t *testing.T) {
			clock := testkit.NewClock(start)
			m, st := newSessions(t, d, clock)
			ctx := context.Background()
			s, req := signIn(t, m, "u1", "test-browser")
			for clock.Now().Before(start.Add(2*time.Hour - 10*time.Minute)) {
				clock.Add(10 * time.Minute)
				if _, err := m.Get(ctx, req); err != nil {
					t.Fatalf("session refused at %v: %v", clock.Now().Sub(start), err)
				}
			}
			clock.Add(10 * time.Minute) // exactly the absolute end
			if _, err := m.Get(ctx, req); !errors.Is(err, identity.ErrNoSession) {
				t.Fatalf("session past its absolute end accepted: %v", err)
			}
			if _, err := st.GetSession(ctx, s.IDHash); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("expired session not deleted: %v", err)
			}
		})
	}
}

// TestSessionTouchBounded: requests inside a minute write last-seen once.
func TestSessionTouchBounded(t *testing.T) {
	clock := testkit.NewClock(start)
	m, st := newSessions(t, "sqlite", clock)
	ctx := context.Background()
	s, req := signIn(t, m, "u1", "test-browser")
	clock.Add(59 * time.Second)
	if _, err := m.Get(ctx, req); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.GetSession(ctx, s.IDHash); !got.LastSeenAt.Equal(start) {
		t.Fatalf("touched inside the interval: %v", got.LastSeenAt)
	}
	clock.Add(time.Second)
	if _, err := m.Get(ctx, req); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.GetSession(ctx, s.IDHash); !got.LastSeenAt.Equal(start.Add(time.Minute)) {
		t.Fatalf("not touched after the interval: %v", got.LastSeenAt)
	}
}

// TestSessionEndOthers: ending the others keeps this browser's session;
// a handle names only the user's own sessions.
func TestSessionEndOthers(t *testing.T) {
	clock := testkit.NewClock(start)
	m, st := newSessions(t, "sqlite", clock)
	ctx := context.Background()
	if err := st.CreateUser(ctx, &identity.User{ID: "u2", Username: "bob", PasswordHash: "x", CreatedAt: start, UpdatedAt: start}); err != nil {
		t.Fatal(err)
	}
	mine, myReq := signIn(t, m, "u1", "laptop")
	_, otherReq := signIn(t, m, "u1", "phone")
	bobs, bobReq := signIn(t, m, "u2", "bob's browser")
	if err := m.EndSession(ctx, "u1", bobs.Handle()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ended another user's session by its handle: %v", err)
	}
	n, err := m.EndOthers(ctx, "u1", mine)
	if err != nil || n != 1 {
		t.Fatalf("end others: %d %v", n, err)
	}
	if _, err := m.Get(ctx, otherReq); !errors.Is(err, identity.ErrNoSession) {
		t.Fatalf("other session still valid: %v", err)
	}
	for _, r := range []*http.Request{myReq, bobReq} {
		if _, err := m.Get(ctx, r); err != nil {
			t.Fatalf("a session that should live was ended: %v", err)
		}
	}
	list, err := m.List(ctx, "u1")
	if err != nil || len(list) != 1 || list[0].UserAgent != "laptop" {
		t.Fatalf("list %+v %v", list, err)
	}
}

// TestSessionUserAgentTruncated: a huge or control-laden User-Agent is
// stored cut to MaxUserAgent bytes of printable text.
func TestSessionUserAgentTruncated(t *testing.T) {
	clock := testkit.NewClock(start)
	m, _ := newSessions(t, "sqlite", clock)
	s, _ := signIn(t, m, "u1", strings.Repeat("é", 1000)+"\x01")
	if len(s.UserAgent) > identity.MaxUserAgent || strings.ContainsRune(s.UserAgent, 1) || !strings.HasPrefix(s.UserAgent, "éé") {
		t.Fatalf("user agent %d bytes %q", len(s.UserAgent), s.UserAgent[:10])
	}
}

// BenchmarkSessionGet is the per-request session check of every page
// (SQLite): a lookup, the timeout checks, and a touch at most once a
// minute (the injected clock advances 1 ms per request, so about one
// request in 60000 writes).
func BenchmarkSessionGet(b *testing.B) {
	clock := testkit.NewClock(start)
	st := storetest.Open(b, "sqlite")
	m := identity.NewSessionsWith(identity.SessionOptions{Store: st, TTL: 720 * time.Hour, IdleTTL: 30 * time.Minute, Now: clock.Now})
	req := httptest.NewRequest(http.MethodPost, "/login", nil)
	rec := httptest.NewRecorder()
	if _, err := m.Start(context.Background(), rec, req, "u1"); err != nil {
		b.Fatal(err)
	}
	next := httptest.NewRequest(http.MethodGet, "/account", nil)
	for _, c := range rec.Result().Cookies() {
		next.AddCookie(c)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		clock.Add(time.Millisecond)
		if _, err := m.Get(ctx, next); err != nil {
			b.Fatal(err)
		}
	}
}
