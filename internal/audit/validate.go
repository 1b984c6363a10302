package audit

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Limits on an event's fields. Events are evidence, not payloads: anything
// larger is a bug or an attack (log flooding), and is refused.
const (
	maxField       = 1024
	maxAction      = 64
	maxDetails     = 32
	maxDetailKey   = 64
	maxDetailValue = 1024
)

// ErrInvalidEvent wraps every validation failure.
var ErrInvalidEvent = errors.New("audit: invalid event")

// validate refuses events that would store garbage: a missing action, an
// unknown outcome, oversized fields, invalid UTF-8 or control characters
// (which could forge line breaks in `audit tail` output).
func validate(e *Event) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidEvent, fmt.Sprintf(format, args...))
	}
	if e.Action == "" || len(e.Action) > maxAction {
		return bad("action must be 1 to %d characters", maxAction)
	}
	for _, c := range []byte(e.Action) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return bad("action %q may use only a-z, 0-9, '.', '_' and '-'", e.Action)
		}
	}
	switch e.Outcome {
	case OutcomeSuccess, OutcomeFailure, OutcomeDenied:
	default:
		return bad("outcome must be success, failure or denied")
	}
	for name, v := range map[string]string{
		"actor": e.Actor, "target": e.Target, "reason": e.Reason,
		"client_addr": e.ClientAddr, "request_id": e.RequestID,
	} {
		if err := checkText(v, maxField); err != nil {
			return bad("%s: %v", name, err)
		}
	}
	if len(e.Details) > maxDetails {
		return bad("at most %d details", maxDetails)
	}
	for k, v := range e.Details {
		if k == "" {
			return bad("empty detail key")
		}
		if err := checkText(k, maxDetailKey); err != nil {
			return bad("detail key: %v", err)
		}
		if err := checkText(v, maxDetailValue); err != nil {
			return bad("detail %q: %v", k, err)
		}
	}
	return nil
}

func checkText(s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("longer than %d bytes", max)
	}
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return errors.New("contains a control character")
		}
	}
	return nil
}
