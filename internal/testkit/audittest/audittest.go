// Package audittest is the in-memory audit recorder tests share: an
// Auditor (audit.Log's Record) that keeps every event, for assertions on
// what was recorded and on what must never be (a secret value).
package audittest

import (
	"context"
	"strings"
	"sync"

	"github.com/rampart-auth/rampart/internal/audit"
)

// Recorder keeps every event it is given; safe for concurrent use. The
// zero value is ready.
type Recorder struct {
	mu     sync.Mutex
	events []audit.Event
}

// Record keeps e.
func (r *Recorder) Record(_ context.Context, e audit.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return nil
}

// All returns a copy of the events, in order.
func (r *Recorder) All() []audit.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]audit.Event(nil), r.events...)
}

// Contains reports whether s appears in any field of any event (actor,
// action, target, reason, a detail's key or value).
func (r *Recorder) Contains(s string) bool {
	for _, e := range r.All() {
		if strings.Contains(e.Actor, s) || strings.Contains(e.Action, s) || strings.Contains(e.Target, s) || strings.Contains(e.Reason, s) {
			return true
		}
		for k, v := range e.Details {
			if strings.Contains(k, s) || strings.Contains(v, s) {
				return true
			}
		}
	}
	return false
}
