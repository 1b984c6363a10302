package secrets

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
)

// redacted is what every printing, marshalling and logging path of a
// Value produces: the bytes leave only through Bytes (OWASP Logging Cheat
// Sheet: never log secrets; CWE-532).
const redacted = "[REDACTED]"

// Value holds a secret's bytes. Its zero value is the empty secret. It
// implements every interface fmt, encoding/json, encoding (text) and
// log/slog consult, so a Value passed by mistake to a log line, an error
// or a JSON document prints "[REDACTED]", never its bytes.
//
// The bytes sit behind two pointers: fmt cannot call Format on a Value
// held in an unexported struct field (reflection gives it no method
// access) and then walks the fields itself. A pointer below the top level
// prints as an address, and a bad verb (%s of a pointer) re-prints the
// pointer's target with %v, which reaches the second pointer and prints
// its address again: the bytes are never reached.
type Value struct {
	p *valueBox
}

// valueBox holds the pointer to the bytes (see Value).
type valueBox struct {
	b *[]byte
}

// NewValue returns a Value holding a copy of b.
func NewValue(b []byte) Value {
	if len(b) == 0 {
		return Value{}
	}
	return ownValue(append([]byte(nil), b...))
}

// ownValue returns a Value holding b itself (no copy).
func ownValue(b []byte) Value { return Value{p: &valueBox{b: &b}} }

// raw returns the bytes without copying (for sealing and the HMAC).
func (v Value) raw() []byte {
	if v.p == nil || v.p.b == nil {
		return nil
	}
	return *v.p.b
}

// Bytes returns a copy of the bytes: the only way out.
func (v Value) Bytes() []byte {
	if len(v.raw()) == 0 {
		return nil
	}
	return append([]byte(nil), v.raw()...)
}

// Len returns the number of bytes.
func (v Value) Len() int { return len(v.raw()) }

// Equal reports whether v and o hold the same bytes, in time independent
// of where they differ (crypto/subtle: no timing oracle on the content).
func (v Value) Equal(o Value) bool {
	return subtle.ConstantTimeCompare(v.raw(), o.raw()) == 1
}

// String returns "[REDACTED]".
func (v Value) String() string { return redacted }

// GoString returns "[REDACTED]" (the %#v verb).
func (v Value) GoString() string { return redacted }

// Format prints "[REDACTED]" for every verb and flag: fmt calls Format
// before String, GoString or its reflection of the fields, so %x, %q,
// %v, %+v, %#v, %s and %d all stay redacted.
func (v Value) Format(f fmt.State, _ rune) {
	_, _ = f.Write([]byte(redacted))
}

// MarshalJSON returns the JSON string "[REDACTED]".
func (v Value) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns "[REDACTED]" (encoding.TextMarshaler: YAML, map
// keys, text encoders).
func (v Value) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue returns "[REDACTED]" (slog.LogValuer, consulted by every
// handler).
func (v Value) LogValue() slog.Value { return slog.StringValue(redacted) }

// wipe zeroes b (a DEK or plaintext buffer no longer needed). Go may have
// copied the bytes elsewhere (the garbage collector moves nothing, but
// conversions copy), so this narrows the window, it does not close it.
func wipe(b []byte) {
	clear(b)
}
