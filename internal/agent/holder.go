package agent

import "sync"

// holder keeps the current SVID with a version that grows by one on every
// change (SVID, bundle or CRL), and wakes the socket's long-poll waiters.
// It holds one SVID: the agent's memory does not grow with time or with
// the number of clients.
type holder struct {
	mu      sync.Mutex
	cur     *svid
	version uint64
	changed chan struct{} // closed and replaced at every change
}

func newHolder() *holder { return &holder{changed: make(chan struct{})} }

// set makes s current, bumps the version and wakes every waiter.
func (h *holder) set(s *svid) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cur = s
	h.version++
	close(h.changed)
	h.changed = make(chan struct{})
}

// get returns the current SVID (nil before the first), its version, and a
// channel closed at the next change.
func (h *holder) get() (*svid, uint64, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cur, h.version, h.changed
}
