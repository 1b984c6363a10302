package agent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/testkit"
)

const testTD = "example.test"

// runningAgent is an Agent running in a goroutine for a test.
type runningAgent struct {
	a      *Agent
	cancel context.CancelFunc
	errc   chan error
	logs   *testkit.SyncBuffer
	done   bool
	err    error
}

// testConfig returns a Config for ca with the out dir and socket in a
// fresh temporary directory, logging JSON to logs.
func testConfig(t *testing.T, ca *fakeCA) (Config, *testkit.SyncBuffer) {
	t.Helper()
	dir := t.TempDir()
	logs := &testkit.SyncBuffer{}
	return Config{
		Server: ca.url(), OutDir: filepath.Join(dir, "out"), Socket: filepath.Join(dir, "agent.sock"),
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}, logs
}

// writeToken writes tok to a file in a temporary directory.
func writeToken(t *testing.T, tok string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	testkit.WriteFile(t, p, []byte(tok+"\n"))
	return p
}

func startAgent(t *testing.T, cfg Config, logs *testkit.SyncBuffer) *runningAgent {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningAgent{a: a, cancel: cancel, errc: make(chan error, 1), logs: logs}
	go func() { r.errc <- a.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the agent and returns Run's answer.
func (r *runningAgent) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	return r.wait(t, 10*time.Second)
}

// wait returns Run's answer, failing the test after timeout.
func (r *runningAgent) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	if r.done {
		return r.err
	}
	select {
	case r.err = <-r.errc:
		r.done = true
		return r.err
	case <-time.After(timeout):
		t.Fatalf("agent still running after %s; logs:\n%s", timeout, r.logs.String())
		return nil
	}
}

// exited reports whether Run returned, without waiting.
func (r *runningAgent) exited() bool {
	if r.done {
		return true
	}
	select {
	case r.err = <-r.errc:
		r.done = true
		return true
	default:
		return false
	}
}

// socketClient is an HTTP client of the unix socket at path.
func socketClient(path string) *http.Client {
	return &http.Client{Timeout: 45 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}}}
}

// getSocket GETs path on the socket and returns the status and body.
func getSocket(t *testing.T, sock, path string) (int, []byte) {
	t.Helper()
	resp, err := socketClient(sock).Get("http://agent" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// tryGet GETs path on the socket, reporting errors instead of failing.
func tryGet(sock, path string) (int, []byte, error) {
	resp, err := socketClient(sock).Get("http://agent" + path)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// socketSVID GETs /v1/svid (with query q) and decodes a 200.
func socketSVID(t *testing.T, sock, q string) socketResponse {
	t.Helper()
	code, b := getSocket(t, sock, "/v1/svid"+q)
	if code != http.StatusOK {
		t.Fatalf("GET /v1/svid%s: %d %s", q, code, b)
	}
	var sr socketResponse
	if err := json.Unmarshal(b, &sr); err != nil {
		t.Fatal(err)
	}
	return sr
}

// waitFiles waits for svid.pem to exist in dir.
func waitFiles(t *testing.T, r *runningAgent, dir string) {
	t.Helper()
	testkit.WaitFor(t, "svid.pem", 10*time.Second, func() bool {
		if r.exited() {
			t.Fatalf("agent exited: %v; logs:\n%s", r.err, r.logs.String())
		}
		_, err := os.Stat(filepath.Join(dir, fileCRL))
		return err == nil
	})
}

// currentSerial returns the serial of the SVID in dir/svid.pem.
func currentLeafSerial(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, fileSVID))
	if err != nil {
		t.Fatal(err)
	}
	certs, err := parseCertsPEM(b, maxChainCerts)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0].SerialNumber.Text(16)
}

func isErr[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}
