package ratelimit

import (
	"context"
	"testing"
	"time"
)

type ctxKey struct{}

// TestSharedDeadlines: every call gets between 90 % and 100 % of the
// timeout, a caller's earlier deadline wins, the caller's values pass
// through, and an expired bound is replaced.
func TestSharedDeadlines(t *testing.T) {
	d := deadlines{timeout: 200 * time.Millisecond}
	start := time.Now()
	b1 := d.bound()
	dl, ok := b1.Deadline()
	if !ok || dl.Sub(start) > 200*time.Millisecond+5*time.Millisecond || dl.Sub(start) < 180*time.Millisecond {
		t.Fatalf("first bound: deadline in %s", dl.Sub(start))
	}
	if d.bound() != b1 {
		t.Fatal("a bound was not shared within its renewal window")
	}
	time.Sleep(25 * time.Millisecond) // past a tenth of the timeout
	b2 := d.bound()
	if b2 == b1 {
		t.Fatal("the bound was not renewed after a tenth of the timeout")
	}
	if dl2, _ := b2.Deadline(); time.Until(dl2) < 180*time.Millisecond-5*time.Millisecond {
		t.Fatalf("renewed bound ends in %s", time.Until(dl2))
	}

	parent := context.WithValue(context.Background(), ctxKey{}, "trace-1")
	c := &callCtx{Context: parent, bound: b2}
	if c.Value(ctxKey{}) != "trace-1" {
		t.Fatal("the caller's values are lost")
	}
	if got, _ := c.Deadline(); got != mustDeadline(t, b2) {
		t.Fatalf("deadline %v, want the bound's", got)
	}
	short, cancel := context.WithTimeout(parent, 10*time.Millisecond)
	defer cancel()
	c = &callCtx{Context: short, bound: b2}
	if got, _ := c.Deadline(); got != mustDeadline(t, short) {
		t.Fatal("the caller's earlier deadline does not win")
	}
	select {
	case <-c.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("the bound never ended")
	}
	if c.Err() == nil {
		t.Fatal("no error after the bound ended")
	}
}

func mustDeadline(t *testing.T, ctx context.Context) time.Time {
	t.Helper()
	d, ok := ctx.Deadline()
	if !ok {
		t.Fatal("no deadline")
	}
	return d
}
