package audit_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
)

// FuzzCanonical: encoding never panics, and moving bytes between adjacent
// fields, or changing the seq, always changes the encoding (so no two
// different records share a hash input).
func FuzzCanonical(f *testing.F) {
	f.Add(int64(1), int64(0), "user:a", "auth.login", "client:x", "k", "v")
	f.Add(int64(-1), int64(1<<62), "", "", "", "", "")
	f.Add(int64(9), int64(5), "ab", "c", "", "kk", "")
	f.Fuzz(func(t *testing.T, seq, ns int64, actor, action, target, dk, dv string) {
		e := audit.Event{Time: time.Unix(0, ns), Actor: actor, Action: action, Target: target, Outcome: "success", Details: map[string]string{dk: dv}}
		c := audit.Canonical(seq, &e)
		if !bytes.Equal(c, audit.Canonical(seq, &e)) {
			t.Fatal("not deterministic")
		}
		if bytes.Equal(c, audit.Canonical(seq+1, &e)) {
			t.Fatal("seq not encoded")
		}
		if actor != "" {
			moved := e
			moved.Actor, moved.Action = actor[:len(actor)-1], actor[len(actor)-1:]+action
			if bytes.Equal(c, audit.Canonical(seq, &moved)) {
				t.Fatal("moving a byte from actor to action kept the encoding")
			}
		}
		if dk != "" {
			moved := e
			moved.Details = map[string]string{dk[:len(dk)-1]: dk[len(dk)-1:] + dv}
			if bytes.Equal(c, audit.Canonical(seq, &moved)) {
				t.Fatal("moving a byte from a detail key to its value kept the encoding")
			}
		}
	})
}
