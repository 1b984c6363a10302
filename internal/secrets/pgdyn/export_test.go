package pgdyn

import "time"

// SetSettleWait shortens how long an explicit revocation waits for a
// lease's creation, for tests; it returns a function restoring it.
func SetSettleWait(d time.Duration) func() {
	old := settleWait
	settleWait = d
	return func() { settleWait = old }
}
