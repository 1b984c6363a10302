package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"unicode"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
)

// TestFormatEscapesTamperedRows: Record refuses control characters, but
// `audit tail` also prints rows written by hand into the database; those
// must not reach the operator's terminal raw nor forge extra lines.
func TestFormatEscapesTamperedRows(t *testing.T) {
	s := fill(t, sqlstore.SQLite, 2)
	hostile := "x\x1b]0;owned\x07\x1b[2J\r\nforged line\u009b1m\u202eevil\x7f\xff"
	details, _ := json.Marshal(map[string]string{"k\x1b": hostile, "ok": "\u2028\u202e"})
	exec(t, s, "UPDATE audit_log SET actor = ?, action = ?, reason = ?, details = ? WHERE seq = 2",
		hostile, hostile, hostile, string(details))
	exec(t, s, "UPDATE audit_log SET ts = 'x' WHERE seq = 1")
	recs, err := audit.Tail(context.Background(), s, 2)
	if err != nil || len(recs) != 2 {
		t.Fatalf("%v %d", err, len(recs))
	}
	for _, jsonOut := range []bool{false, true} {
		var out bytes.Buffer
		for _, r := range recs {
			if err := audit.Format(&out, r, jsonOut); err != nil {
				t.Fatal(err)
			}
		}
		text := out.String()
		if strings.Count(text, "\n") != 2 || !strings.HasSuffix(text, "\n") {
			t.Fatalf("json=%v: not one line per record:\n%s", jsonOut, text)
		}
		for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
			for _, r := range line {
				if r != ' ' && !unicode.IsPrint(r) {
					t.Fatalf("json=%v: raw %U in output %q", jsonOut, r, text)
				}
			}
		}
		if !strings.Contains(text, "malformed") {
			t.Fatalf("json=%v: the malformed row is not flagged: %s", jsonOut, text)
		}
		if jsonOut {
			for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
				var v struct {
					Actor   string            `json:"actor"`
					Details map[string]string `json:"details"`
				}
				if err := json.Unmarshal([]byte(line), &v); err != nil {
					t.Fatalf("invalid JSON line %q: %v", line, err)
				}
				if strings.Contains(line, `"seq":2`) && (v.Actor != strings.ToValidUTF8(hostile, "\ufffd") || v.Details["ok"] != "\u2028\u202e") {
					t.Fatalf("escaping lost information: %q", v.Actor)
				}
			}
		}
	}
}

func TestTailAndFormat(t *testing.T) {
	s := fill(t, sqlstore.SQLite, 5)
	recs, err := audit.Tail(context.Background(), s, 3)
	if err != nil || len(recs) != 3 || recs[0].Seq != 3 || recs[2].Seq != 5 {
		t.Fatalf("Tail: %v %+v", err, recs)
	}
	r := recs[2]
	r.Reason, r.Details = "two words", map[string]string{"z": "1", "a": `say "hi"`}
	var text, js bytes.Buffer
	if err := audit.Format(&text, r, false); err != nil {
		t.Fatal(err)
	}
	if err := audit.Format(&js, r, true); err != nil {
		t.Fatal(err)
	}
	wantText := r.Time.UTC().Format("2006-01-02T15:04:05.999999999Z07:00") +
		` #5 success test.event actor=user:5 target=thing:x reason="two words" addr=127.0.0.1 request_id=req-5 a="say \"hi\"" z=1` + "\n"
	if text.String() != wantText {
		t.Fatalf("text:\n got %q\nwant %q", text.String(), wantText)
	}
	var got map[string]any
	if err := json.Unmarshal(js.Bytes(), &got); err != nil || got["seq"] != float64(5) || got["outcome"] != "success" ||
		len(got["hash"].(string)) != 64 || got["malformed"] != nil {
		t.Fatalf("json %s (%v)", js.String(), err)
	}
}
