package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rampart-auth/rampart/internal/httpx"
)

// Socket protocol limits (contract.md, "Socket").
const (
	// longPollMax is how long GET /v1/svid?after=N waits for a newer
	// version before answering the current one.
	longPollMax = 30 * time.Second
	// maxWaiters bounds the long-poll requests waiting at once; one more
	// is answered 503 at once, so a misbehaving client cannot pile up
	// goroutines and memory (memory proportional to the identity served,
	// not to the clients).
	maxWaiters = 256
	modeSocket = 0o600
)

// socketResponse is the body of a 200 from GET /v1/svid.
type socketResponse struct {
	Version   uint64            `json:"version"`
	SPIFFEID  string            `json:"spiffe_id"`
	SVID      string            `json:"svid"`
	Key       string            `json:"key"`
	Bundles   map[string]string `json:"bundles"`
	CRL       string            `json:"crl"`
	ExpiresAt string            `json:"expires_at"`
}

// socketHandler serves /v1/svid and /metrics on the agent's socket.
type socketHandler struct {
	h        *holder
	now      func() time.Time
	metrics  http.Handler
	pollMax  time.Duration
	waiters  atomic.Int32
	maxWait  int32
	stopping <-chan struct{} // closed when the agent stops: waiters answer at once
}

func (sh *socketHandler) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/svid", sh.serveSVID)
	mux.Handle("GET /metrics", sh.metrics)
	return httpx.MuxProblems(mux)
}

func (sh *socketHandler) serveSVID(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if q := r.URL.Query(); q.Has("after") {
		after, err := strconv.ParseUint(q.Get("after"), 10, 64)
		if err != nil {
			httpx.WriteProblem(w, r, http.StatusBadRequest, "", "after must be a version number")
			return
		}
		if !sh.wait(w, r, after) {
			return
		}
	}
	cur, version, _ := sh.h.get()
	if cur == nil || !cur.valid(sh.now()) {
		w.Header().Set("Retry-After", "1")
		httpx.WriteProblem(w, r, http.StatusServiceUnavailable, "", "the agent holds no valid SVID")
		return
	}
	body, err := json.Marshal(socketResponse{
		Version: version, SPIFFEID: cur.id.String(),
		SVID: string(cur.chainPEM), Key: string(cur.keyPEM),
		Bundles:   map[string]string{cur.td.Name(): string(cur.bundlePEM)},
		CRL:       string(cur.crlPEM),
		ExpiresAt: cur.notAfter().UTC().Format(time.RFC3339),
	})
	if err != nil {
		httpx.WriteProblem(w, r, http.StatusInternalServerError, "", "")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// wait blocks until the version exceeds after, longPollMax passes, the
// client goes or the agent stops. It reports false when it answered
// already (too many waiters).
func (sh *socketHandler) wait(w http.ResponseWriter, r *http.Request, after uint64) bool {
	_, version, changed := sh.h.get()
	if version > after {
		return true
	}
	if sh.waiters.Add(1) > sh.maxWait {
		sh.waiters.Add(-1)
		w.Header().Set("Retry-After", "1")
		httpx.WriteProblem(w, r, http.StatusServiceUnavailable, "", "too many waiting requests")
		return false
	}
	defer sh.waiters.Add(-1)
	t := time.NewTimer(sh.pollMax)
	defer t.Stop()
	for version <= after {
		select {
		case <-changed:
			_, version, changed = sh.h.get()
		case <-t.C:
			return true
		case <-r.Context().Done():
			return true
		case <-sh.stopping:
			return true
		}
	}
	return true
}

// listenSocket listens on the unix socket path with mode 0600. An existing
// socket file is removed only when nothing answers on it (the leftover of
// an agent that died); a live one, or a file that is not a socket, is an
// error. The socket is bound inside a fresh 0700 directory, made 0600 and
// only then renamed to path, so no other user can connect in the window
// between bind(2) and chmod(2) (the socket carries the private key).
func listenSocket(path string) (net.Listener, func(), error) {
	if st, err := os.Lstat(path); err == nil {
		if st.Mode().Type() != fs.ModeSocket {
			return nil, nil, fmt.Errorf("agent: --socket %s exists and is not a socket", path)
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			_ = c.Close()
			return nil, nil, fmt.Errorf("agent: --socket %s: another process listens on it", path)
		}
		// Only "connection refused" proves nothing listens; permission
		// denied (another user's live socket) or a timeout prove nothing.
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, nil, fmt.Errorf("agent: --socket %s exists and cannot be probed: %w", path, err)
		}
		if err := os.Remove(path); err != nil {
			return nil, nil, fmt.Errorf("agent: --socket %s: remove the stale socket: %w", path, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("agent: --socket %s: %w", path, err)
	}
	tmpDir, err := os.MkdirTemp(filepath.Dir(path), ".ra-") // short: a unix socket path has ~107 bytes
	if err != nil {
		return nil, nil, fmt.Errorf("agent: --socket %s: %w", path, err)
	}
	defer func() { _ = os.RemoveAll(tmpDir) }()
	tmp := filepath.Join(tmpDir, "s")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, nil, fmt.Errorf("agent: --socket %s: %w", path, err)
	}
	l.SetUnlinkOnClose(false) // the bound name moves; cleanup removes the final one
	if err := os.Chmod(tmp, modeSocket); err != nil {
		_ = l.Close()
		return nil, nil, fmt.Errorf("agent: --socket %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = l.Close()
		return nil, nil, fmt.Errorf("agent: --socket %s: %w", path, err)
	}
	cleanup := func() {
		_ = l.Close()
		_ = os.Remove(path)
	}
	return l, cleanup, nil
}

// serveHTTP serves h on l until ctx ends, then shuts the server down
// (closing the listener) within a few seconds.
func serveHTTP(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout: longPollMax + 10*time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	<-errc
	return nil
}
