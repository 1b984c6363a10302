package identity

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"
)

// TestBoundedHasherRefusesWhenSaturated: with every slot taken, a bounded
// Hasher answers ErrBusy after its wait instead of queueing, counts it,
// and hashes again once a slot is free; an unbounded one waits for the
// caller's context.
func TestBoundedHasherRefusesWhenSaturated(t *testing.T) {
	ctx := context.Background()
	h, err := NewBoundedHasher(Params{}, 1, time.Millisecond, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	phc, err := h.Hash(ctx, "secret")
	if err != nil {
		t.Fatal(err)
	}
	h.sem <- struct{}{} // another check holds the only slot
	t.Run("reject/saturated", func(t *testing.T) {
		if _, _, err := h.Verify(ctx, "guess", phc); !errors.Is(err, ErrBusy) {
			t.Fatalf("Verify on a saturated hasher: %v, want ErrBusy", err)
		}
		if _, err := h.Hash(ctx, "x"); !errors.Is(err, ErrBusy) {
			t.Fatalf("Hash on a saturated hasher: %v, want ErrBusy", err)
		}
		if st := h.Stats(); st.Busy != 2 || st.Waited != 2 || st.Hashes != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
	<-h.sem
	t.Run("accept/free-again", func(t *testing.T) {
		if ok, _, err := h.Verify(ctx, "secret", phc); !ok || err != nil {
			t.Fatalf("Verify after the slot was freed: %v %v", ok, err)
		}
	})
	t.Run("unbounded-waits-for-context", func(t *testing.T) {
		u, err := NewHasher(Params{}, 1, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		u.sem <- struct{}{}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, _, err := u.Verify(cctx, "guess", phc); !errors.Is(err, context.Canceled) {
			t.Fatalf("unbounded hasher: %v, want the context's error", err)
		}
	})
}
