package audit

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Format writes one record as one line: human-readable text or, with
// jsonOut, a JSON object. It escapes defensively: Record refuses control
// characters, but `audit tail` also shows rows someone wrote into the
// database by hand, and those must not forge lines or send escape
// sequences to the operator's terminal. Format prints only what the log
// holds (pseudonyms, never the HMAC key).
//
// Text: time (RFC 3339, UTC), #seq, outcome, action, actor=, then target=,
// reason=, addr=, request_id= when set, the details as key=value sorted by
// key, and malformed= for a row that did not read back exactly. A value
// that is empty or holds a space, quote, '=', backslash or anything not
// printable is Go-quoted.
func Format(w io.Writer, r Record, jsonOut bool) error {
	if jsonOut {
		return formatJSON(w, r)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s #%d %s %s actor=%s", formatTime(r.Time), r.Seq, quote(r.Outcome), quote(r.Action), quote(r.Actor))
	for _, kv := range [...][2]string{{"target", r.Target}, {"reason", r.Reason}, {"addr", r.ClientAddr}, {"request_id", r.RequestID}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, " %s=%s", kv[0], quote(kv[1]))
		}
	}
	for _, k := range sortedKeys(r.Details) {
		fmt.Fprintf(&b, " %s=%s", quote(k), quote(r.Details[k]))
	}
	if r.Malformed != "" {
		fmt.Fprintf(&b, " malformed=%s", quote(r.Malformed))
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

func formatJSON(w io.Writer, r Record) error {
	line, err := json.Marshal(struct {
		Seq        int64             `json:"seq"`
		Time       string            `json:"time"`
		Actor      string            `json:"actor"`
		Action     string            `json:"action"`
		Target     string            `json:"target,omitempty"`
		Outcome    string            `json:"outcome"`
		Reason     string            `json:"reason,omitempty"`
		ClientAddr string            `json:"client_addr,omitempty"`
		RequestID  string            `json:"request_id,omitempty"`
		Details    map[string]string `json:"details,omitempty"`
		Hash       string            `json:"hash"`
		Malformed  string            `json:"malformed,omitempty"`
	}{r.Seq, formatTime(r.Time), r.Actor, r.Action, r.Target, r.Outcome, r.Reason, r.ClientAddr, r.RequestID,
		r.Details, hex.EncodeToString(r.Hash), r.Malformed})
	if err != nil {
		return fmt.Errorf("audit: format: %w", err)
	}
	line = append(escapeUnprintable(line), '\n')
	_, err = w.Write(line)
	return err
}

// formatTime renders a record's time the same way in both formats.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// quote returns s as is when it is a plain printable token, else Go-quoted
// (strconv.Quote escapes every non-printable rune and invalid byte).
func quote(s string) string {
	if s == "" || !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if r == ' ' || r == '"' || r == '=' || r == '\\' || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// escapeUnprintable rewrites, inside encoding/json output, the runes it
// leaves raw that a terminal may act on or that reorder text: DEL, C1
// controls, format characters (bidirectional overrides) and other
// non-printable runes, as \uXXXX escapes (surrogate pairs above U+FFFF).
// JSON syntax is ASCII, so such runes only occur inside strings.
func escapeUnprintable(b []byte) []byte {
	clean := true
	for _, c := range b {
		if c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == 0x7f || (r >= 0x80 && !unicode.IsPrint(r)) {
			if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
				out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
			} else {
				out = fmt.Appendf(out, `\u%04x`, r)
			}
		} else {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}
