package testkit

import (
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestFreePortIsBindable(t *testing.T) {
	port := FreePort(t)
	if port <= 0 || port > 65535 {
		t.Fatalf("port %d", port)
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("FreePort's port %d: %v", port, err)
	}
	_ = l.Close()

	addr := FreeAddr(t)
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("FreeAddr = %q", addr)
	}
	l, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("FreeAddr's %s: %v", addr, err)
	}
	_ = l.Close()
}

func TestWaitForReturnsOnceTrue(t *testing.T) {
	var calls atomic.Int64
	WaitFor(t, "the third look", 5*time.Second, func() bool { return calls.Add(1) == 3 })
	if calls.Load() != 3 {
		t.Fatalf("cond called %d times, want 3", calls.Load())
	}
}

// fakeTB records Fatalf instead of stopping the goroutine, so the failure
// path of a helper can be tested.
type fakeTB struct {
	testing.TB
	fatal, errs []string
}

func (f *fakeTB) Helper()                   {}
func (f *fakeTB) Name() string              { return "TestFake" }
func (f *fakeTB) Fatalf(s string, a ...any) { f.fatal = append(f.fatal, fmt.Sprintf(s, a...)) }
func (f *fakeTB) Errorf(s string, a ...any) { f.errs = append(f.errs, fmt.Sprintf(s, a...)) }

func TestWaitForTimeout(t *testing.T) {
	f := &fakeTB{TB: t}
	var calls atomic.Int64
	begin := time.Now()
	WaitFor(f, "the impossible", 50*time.Millisecond, func() bool { calls.Add(1); return false })
	if len(f.fatal) != 1 || !strings.Contains(f.fatal[0], "timed out") || !strings.Contains(f.fatal[0], "the impossible") {
		t.Fatalf("Fatalf calls %q, want one naming what was awaited", f.fatal)
	}
	if took := time.Since(begin); took < 50*time.Millisecond {
		t.Fatalf("gave up after %s, before the timeout", took)
	}
	if calls.Load() < 2 {
		t.Fatalf("cond called %d times: not polled", calls.Load())
	}
}
