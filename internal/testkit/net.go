package testkit

import (
	"net"
	"strconv"
	"testing"
	"time"
)

// pollInterval is how long WaitFor sleeps between two looks at its
// condition: short against the timeouts tests use, long enough not to
// spin a core of the shared CI machine.
const pollInterval = 5 * time.Millisecond

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago: it
// is bound and released at once, for a server that must be told its port
// before it starts (an issuer naming the real port, a redis-server
// command line). Another process may take it in between, as with any
// such picker; prefer listening on :0 where the code allows it.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testkit: free port: %v", err)
		return 0
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// FreeAddr returns "127.0.0.1:PORT" for a port FreePort picked: nothing
// listens there once it returns, so it also serves as an address that
// refuses connections.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}

// WaitFor polls cond every few milliseconds until it returns true, and
// fails the test with t.Fatalf naming what when timeout passes first.
// cond is always called at least once.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
			return
		}
		time.Sleep(pollInterval)
	}
}
