package audit

import "time"

// Query selects audit records for the admin API: every set field must
// match (exact comparison; the values are parameters, never spliced into
// SQL). Records come in sequence order, after AfterSeq.
type Query struct {
	AfterSeq int64
	Action   string
	Actor    string
	Target   string
	Outcome  string
	Since    time.Time // zero: no lower bound on the event time
	Until    time.Time // zero: no upper bound (exclusive)
	// Limit bounds the answer (1..MaxQueryLimit).
	Limit int
}

// MaxQueryLimit bounds one page of a Query.
const MaxQueryLimit = 1000
