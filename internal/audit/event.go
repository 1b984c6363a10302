// Package audit records security events in a tamper-evident hash chain.
//
// Every component reports what happened as an Event; the Log appends it to
// the store, chained to the previous record by SHA-256, and returns only once
// the event is durable, so an action is never reported done before its
// evidence exists. Sensitive values are pseudonymized with a keyed HMAC
// before they reach the log (see Log.Pseudonymize).
package audit

import "time"

// Outcome of an audited action.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeDenied  = "denied"
)

// Event is one audited fact. Fields are plain strings so the canonical
// encoding is unambiguous; Details carries small extra key/value pairs.
type Event struct {
	// Time is set by the Log (its clock) when zero.
	Time time.Time
	// Actor is who acted: "user:<id>", "client:<id>", "system", "cli:<os user>".
	Actor string
	// Action is one of the catalogue's constants (actions.go), a dotted
	// verb such as ActionKeyRotate ("key.rotate").
	Action string
	// Target is what the action was done to, e.g. "key:<kid>".
	Target string
	// Outcome is OutcomeSuccess, OutcomeFailure or OutcomeDenied.
	Outcome string
	// Reason explains a failure or denial (a code, never a secret).
	Reason string
	// ClientAddr is the client's IP address when there is a request.
	ClientAddr string
	// RequestID ties the event to the request log lines.
	RequestID string
	// Details are extra facts; values must already be safe to store
	// (pseudonymize usernames on failure, never put secrets here).
	Details map[string]string
}
