package agent

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/mtls"
)

// TestSocketLongPollReturnsOnRenewal: GET /v1/svid?after=N blocks until
// the renewal, then answers version N+1 with the new SVID.
func TestSocketLongPollReturnsOnRenewal(t *testing.T) {
	ca := newFakeCA(t, testTD)
	ca.setTTL(2 * time.Second)
	cfg, logs := testConfig(t, ca)
	cfg.JoinTokenFile = writeToken(t, ca.joinToken(svcA))
	r := startAgent(t, cfg, logs)
	waitFiles(t, r, cfg.OutDir)
	cur := socketSVID(t, cfg.Socket, "")
	start := time.Now()
	next := socketSVID(t, cfg.Socket, "?after="+itoa(cur.Version))
	if next.Version <= cur.Version || next.SVID == cur.SVID {
		t.Fatalf("long poll answered version %d (was %d), same SVID %v", next.Version, cur.Version, next.SVID == cur.SVID)
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Fatalf("long poll returned after %s: it did not wait for the renewal", waited)
	}
	// A version from the past answers at once.
	start = time.Now()
	if got := socketSVID(t, cfg.Socket, "?after=0"); got.Version < next.Version {
		t.Fatalf("after=0 answered version %d", got.Version)
	}
	if time.Since(start) > time.Second {
		t.Fatal("after=0 waited")
	}
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

// testHandler is a socket handler over a holder with s, polling up to
// pollMax with at most maxWait waiters.
func testHandler(t *testing.T, s *svid, pollMax time.Duration, maxWait int32) (*socketHandler, *holder) {
	t.Helper()
	h := newHolder()
	if s != nil {
		h.set(s)
	}
	return &socketHandler{h: h, now: time.Now, metrics: newMetrics().handler(), pollMax: pollMax, maxWait: maxWait,
		stopping: make(chan struct{})}, h
}

// issuedSVID enrols once against ca and returns the SVID state.
func issuedSVID(t *testing.T, ca *fakeCA) *svid {
	t.Helper()
	cfg, logs := testConfig(t, ca)
	cfg.Socket = ""
	cfg.JoinTokenFile = writeToken(t, ca.joinToken(svcA))
	r := startAgent(t, cfg, logs)
	waitFiles(t, r, cfg.OutDir)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	s, err := loadSVIDFiles(cfg.OutDir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSocketHandler(t *testing.T) {
	ca := newFakeCA(t, testTD)
	s := issuedSVID(t, ca)
	for _, tc := range []struct {
		name   string
		svid   *svid
		target string
		code   int
	}{
		{"ok/current", s, "/v1/svid", 200},
		{"ok/after-old", s, "/v1/svid?after=0", 200},
		{"ok/after-timeout", s, "/v1/svid?after=1", 200},
		{"reject/no-svid", nil, "/v1/svid", 503},
		{"reject/no-svid-after-timeout", nil, "/v1/svid?after=0", 503},
		{"reject/bad-after", s, "/v1/svid?after=x", 400},
		{"reject/negative-after", s, "/v1/svid?after=-1", 400},
		{"reject/unknown-path", s, "/v1/other", 404},
		{"ok/metrics", s, "/metrics", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sh, _ := testHandler(t, tc.svid, 50*time.Millisecond, 4)
			rec := httptest.NewRecorder()
			sh.routes().ServeHTTP(rec, httptest.NewRequest("GET", tc.target, nil))
			if rec.Code != tc.code {
				t.Fatalf("%s: %d %s", tc.target, rec.Code, rec.Body)
			}
			if strings.HasPrefix(tc.target, "/v1/svid") && rec.Header().Get("Cache-Control") != "no-store" {
				t.Error("no Cache-Control: no-store")
			}
			if tc.code == 503 && rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("503 as %q", rec.Header().Get("Content-Type"))
			}
		})
	}
	t.Run("reject/post", func(t *testing.T) {
		sh, _ := testHandler(t, s, time.Millisecond, 1)
		rec := httptest.NewRecorder()
		sh.routes().ServeHTTP(rec, httptest.NewRequest("POST", "/v1/svid", nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Fatalf("POST: %d", rec.Code)
		}
	})
}

// TestAttackSocketWaiterFlood: more long-poll waiters than the bound are
// answered 503 at once instead of piling up.
func TestAttackSocketWaiterFlood(t *testing.T) {
	ca := newFakeCA(t, testTD)
	sh, h := testHandler(t, issuedSVID(t, ca), 10*time.Second, 3)
	srv := httptest.NewServer(sh.routes())
	defer srv.Close()
	var wg sync.WaitGroup
	codes := make(chan int, 3)
	for range 3 {
		wg.Go(func() {
			resp, err := http.Get(srv.URL + "/v1/svid?after=1")
			if err == nil {
				codes <- resp.StatusCode
				_ = resp.Body.Close()
			}
		})
	}
	testkit.WaitFor(t, "3 waiters", 5*time.Second, func() bool { return sh.waiters.Load() == 3 })
	resp, err := http.Get(srv.URL + "/v1/svid?after=1")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("4th waiter: %d, want 503 + Retry-After", resp.StatusCode)
	}
	cur, _, _ := h.get()
	h.set(cur) // a change wakes the waiters
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("waiter answered %d", c)
		}
	}
	if sh.waiters.Load() != 0 {
		t.Fatalf("%d waiters left", sh.waiters.Load())
	}
}

func TestListenSocketStale(t *testing.T) {
	dir := t.TempDir()
	t.Run("ok/stale-removed", func(t *testing.T) {
		p := filepath.Join(dir, "stale.sock")
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: p, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		l.SetUnlinkOnClose(false)
		_ = l.Close() // the file stays, nothing listens: a dead agent's leftover
		l2, cleanup, err := listenSocket(p)
		if err != nil {
			t.Fatal(err)
		}
		defer cleanup()
		_ = l2
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("socket %v %v", st.Mode(), err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Fatalf("temporary bind directory left: %v", ents)
		}
	})
	t.Run("reject/live-socket", func(t *testing.T) {
		p := filepath.Join(dir, "live.sock")
		l, err := net.Listen("unix", p)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = l.Close() }()
		if _, _, err := listenSocket(p); err == nil || !strings.Contains(err.Error(), "another process") {
			t.Fatalf("listenSocket over a live socket: %v", err)
		}
		if _, err := os.Stat(p); err != nil {
			t.Fatal("the live socket was removed")
		}
	})
	t.Run("reject/regular-file", func(t *testing.T) {
		p := filepath.Join(dir, "file")
		testkit.WriteFile(t, p, []byte("x"))
		if _, _, err := listenSocket(p); err == nil || !strings.Contains(err.Error(), "not a socket") {
			t.Fatalf("listenSocket over a file: %v", err)
		}
		if _, err := os.Stat(p); err != nil {
			t.Fatal("the file was removed")
		}
	})
}

// TestMTLSSourcesReadTheAgent: the mtls package's SocketSource and
// DirSource read what the agent serves and writes, and follow a renewal.
func TestMTLSSourcesReadTheAgent(t *testing.T) {
	ca := newFakeCA(t, testTD)
	ca.setTTL(3 * time.Second)
	cfg, logs := testConfig(t, ca)
	cfg.JoinTokenFile = writeToken(t, ca.joinToken(svcA))
	r := startAgent(t, cfg, logs)
	waitFiles(t, r, cfg.OutDir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sock, err := mtls.NewSocketSource(ctx, cfg.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sock.Close() }()
	dirSrc, err := mtls.NewDirSource(cfg.OutDir, mtls.WithReloadInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	first, err := sock.SVID()
	if err != nil {
		t.Fatal(err)
	}
	if id, err := mtls.IDFromCert(first.Leaf); err != nil || id.String() != svcA {
		t.Fatalf("socket source SVID %v %v", id, err)
	}
	if auth, ok := sock.X509Authorities(ca.td); !ok || len(auth) != 2 {
		t.Fatalf("socket source bundle: %d %v", len(auth), ok)
	}
	testkit.WaitFor(t, "both sources to follow a renewal", 10*time.Second, func() bool {
		a, err1 := sock.SVID()
		b, err2 := dirSrc.SVID()
		return err1 == nil && err2 == nil && !a.Leaf.Equal(first.Leaf) && a.Leaf.Equal(b.Leaf)
	})
}
