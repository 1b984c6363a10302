package audit

import (
	"errors"
	"fmt"
	"math"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on an event's fields. Events are evidence, not payloads: anything
// larger is a bug or an attack (log flooding), and is refused. With these
// caps one event is at most a few tens of KiB, so the bounded queue bounds
// memory too.
const (
	maxField       = 1024
	maxAction      = 64
	maxDetails     = 32
	maxDetailKey   = 64
	maxDetailValue = 1024
	// maxEventBytes caps the sum of all string fields of one event.
	maxEventBytes = 16 << 10
)

// The times an int64 of Unix nanoseconds can hold (years 1678 to 2262).
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// ErrInvalidEvent wraps every validation failure.
var ErrInvalidEvent = errors.New("audit: invalid event")

// validate refuses events that would store garbage: a missing action, an
// unknown outcome, a time the encoding cannot hold, oversized fields,
// invalid UTF-8, control or format characters (which could forge line
// breaks, drive a terminal with escape sequences or reorder text with
// bidirectional overrides in `audit tail` output). Because every event that
// reaches the writer is valid, no single event can make the database refuse
// a whole batch (PostgreSQL rejects NUL bytes and invalid UTF-8 in text).
func validate(e *Event) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidEvent, fmt.Sprintf(format, args...))
	}
	if e.Action == "" || len(e.Action) > maxAction {
		return bad("action must be 1 to %d characters", maxAction)
	}
	if !isIdent(e.Action) {
		return bad("action %q may use only a-z, 0-9, '.', '_' and '-'", e.Action)
	}
	switch e.Outcome {
	case OutcomeSuccess, OutcomeFailure, OutcomeDenied:
	default:
		return bad("outcome must be %q, %q or %q", OutcomeSuccess, OutcomeFailure, OutcomeDenied)
	}
	if e.Time.Before(minTime) || e.Time.After(maxTime) {
		return bad("time %s is outside the years 1678 to 2262", e.Time.UTC().Format(time.RFC3339))
	}
	total := len(e.Action) + len(e.Outcome)
	for _, f := range [...]struct{ name, v string }{
		{"actor", e.Actor}, {"target", e.Target}, {"reason", e.Reason},
		{"client_addr", e.ClientAddr}, {"request_id", e.RequestID},
	} {
		if err := checkText(f.v, maxField); err != nil {
			return bad("%s: %v", f.name, err)
		}
		total += len(f.v)
	}
	if len(e.Details) > maxDetails {
		return bad("at most %d details", maxDetails)
	}
	for k, v := range e.Details {
		if k == "" || len(k) > maxDetailKey || !isIdent(k) {
			return bad("detail key %q must be 1 to %d characters of a-z, 0-9, '.', '_' and '-'", k, maxDetailKey)
		}
		if err := checkText(v, maxDetailValue); err != nil {
			return bad("detail %q: %v", k, err)
		}
		total += len(k) + len(v)
	}
	if total > maxEventBytes {
		return bad("the event's fields add up to %d bytes, more than %d", total, maxEventBytes)
	}
	return nil
}

// isIdent reports whether s uses only a-z, 0-9, '.', '_' and '-' (actions
// and detail keys are chosen by code, never by clients).
func isIdent(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// checkText accepts valid UTF-8 of at most max bytes without control
// characters (C0, DEL, C1), format characters (bidirectional overrides,
// zero-width characters, BOM) or line and paragraph separators.
func checkText(s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("longer than %d bytes", max)
	}
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		if unsafeRune(r) {
			return fmt.Errorf("contains the control or format character %U", r)
		}
	}
	return nil
}

// unsafeRune reports the runes an event may not hold.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}
