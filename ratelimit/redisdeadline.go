package ratelimit

import (
	"context"
	"sync/atomic"
	"time"
)

// A Redis decision is bounded by RedisOptions.Timeout. A context with its
// own timer per call (context.WithTimeout) costs four allocations and two
// timer-heap operations on every decision, a measurable share of the
// client's work (see the Redis benchmarks). Calls instead share a bound:
// one timeout context, renewed once a tenth of the timeout has passed, so
// each call gets between 90 % and 100 % of Timeout. The call's own
// context still carries the caller's values (tracing hooks see them).

// sharedBound is one timeout context shared by the calls that start
// before renewAt.
type sharedBound struct {
	ctx     context.Context
	cancel  context.CancelFunc // runs when the timer fires; kept for vet
	renewAt int64              // monoNow() after which a new bound is made
}

// deadlines hands out shared bounds for one store.
type deadlines struct {
	timeout time.Duration
	cur     atomic.Pointer[sharedBound]
}

// bound returns a context that ends no later than timeout from now and
// no earlier than 90 % of it. Real time, never the store's injected clock:
// a test clock that stands still must not stop calls from timing out.
func (d *deadlines) bound() context.Context {
	now := monoNow()
	if b := d.cur.Load(); b != nil && now < b.renewAt {
		return b.ctx
	}
	// The context's own timer releases it at its deadline; cancelling it
	// earlier would cut short the calls still using it.
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout) // #nosec G118 -- released by its timer at the deadline (see above)
	nb := &sharedBound{ctx: ctx, cancel: cancel, renewAt: now + int64(d.timeout)/10}
	d.cur.Store(nb) // a racing renewal may win instead: both bounds are valid
	return ctx
}

// callCtx is one Redis call's context: the caller's values and the
// earlier of the caller's deadline and the shared bound. Done and Err are
// the bound's: the call is abandoned at the bound even if the caller is
// still waiting. A caller that gives up earlier is seen when its deadline
// is earlier (go-redis sets socket deadlines from Deadline) and after the
// call (Decide checks the caller's context).
type callCtx struct {
	context.Context
	bound context.Context
}

func (c *callCtx) Deadline() (time.Time, bool) {
	d, _ := c.bound.Deadline()
	if pd, ok := c.Context.Deadline(); ok && pd.Before(d) {
		return pd, true
	}
	return d, true
}

func (c *callCtx) Done() <-chan struct{} { return c.bound.Done() }

func (c *callCtx) Err() error { return c.bound.Err() }
