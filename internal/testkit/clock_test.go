package testkit

import (
	"sync"
	"testing"
	"time"
)

var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestClockMovesOnlyWhenMoved(t *testing.T) {
	c := NewClock(start)
	if !c.Now().Equal(start) || c.Now().Location() != time.UTC {
		t.Fatalf("Now = %v, want %v", c.Now(), start)
	}
	if c.Nanos() != start.UnixNano() {
		t.Fatalf("Nanos = %d, want %d", c.Nanos(), start.UnixNano())
	}
	c.Add(90 * time.Second)
	if want := start.Add(90 * time.Second); c.Now() != want {
		t.Fatalf("after Add: %v, want %v", c.Now(), want)
	}
	c.Add(-30 * time.Second)
	if want := start.Add(time.Minute); c.Now() != want || c.Nanos() != want.UnixNano() {
		t.Fatalf("after a negative Add: %v (%d), want %v", c.Now(), c.Nanos(), want)
	}
	at := start.Add(720 * time.Hour)
	c.Set(at)
	if c.Now() != at {
		t.Fatalf("after Set: %v, want %v", c.Now(), at)
	}
	c.Set(start.Add(-time.Hour)) // backwards too
	if c.Now() != start.Add(-time.Hour) {
		t.Fatalf("after Set back: %v", c.Now())
	}
}

func TestClockNanosFromOne(t *testing.T) {
	c := NewClock(time.Unix(0, 1)) // ratelimit's tests count from 1 ns
	if c.Nanos() != 1 {
		t.Fatalf("Nanos = %d, want 1", c.Nanos())
	}
	c.Add(37 * time.Millisecond)
	if c.Nanos() != 1+int64(37*time.Millisecond) {
		t.Fatalf("Nanos = %d", c.Nanos())
	}
}

// TestClockConcurrent: readers and writers together (run with -race); no
// Add is lost.
func TestClockConcurrent(t *testing.T) {
	c := NewClock(start)
	now := c.Now // the method value code under test receives
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				c.Add(time.Millisecond)
				if now().Before(start) {
					t.Error("clock went back")
					return
				}
			}
		})
	}
	wg.Wait()
	if want := start.Add(4 * time.Second); c.Now() != want {
		t.Fatalf("Now = %v, want %v", c.Now(), want)
	}
}
