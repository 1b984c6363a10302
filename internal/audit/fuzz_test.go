package audit_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
)

// decodeCanonical parses the documented version 1 encoding back into a
// record, independently of the encoder: if every encoding decodes to the
// event it came from, the encoding is injective (distinct events never share
// a hash input).
func decodeCanonical(b []byte) (int64, audit.Event, error) {
	var e audit.Event
	short := errors.New("short input")
	u32 := func() (int, error) {
		if len(b) < 4 {
			return 0, short
		}
		n := int(binary.BigEndian.Uint32(b))
		b = b[4:]
		return n, nil
	}
	str := func() (string, error) {
		n, err := u32()
		if err != nil || len(b) < n {
			return "", short
		}
		s := string(b[:n])
		b = b[n:]
		return s, nil
	}
	if len(b) < 17 || b[0] != 1 {
		return 0, e, errors.New("bad header")
	}
	seq := int64(binary.BigEndian.Uint64(b[1:]))
	e.Time = time.Unix(0, int64(binary.BigEndian.Uint64(b[9:]))).UTC()
	b = b[17:]
	for _, dst := range []*string{&e.Actor, &e.Action, &e.Target, &e.Outcome, &e.Reason, &e.ClientAddr, &e.RequestID} {
		s, err := str()
		if err != nil {
			return 0, e, err
		}
		*dst = s
	}
	n, err := u32()
	if err != nil {
		return 0, e, err
	}
	prev := ""
	for i := 0; i < n; i++ {
		k, err := str()
		if err != nil {
			return 0, e, err
		}
		v, err := str()
		if err != nil {
			return 0, e, err
		}
		if i > 0 && k <= prev {
			return 0, e, errors.New("details not in ascending key order")
		}
		if e.Details == nil {
			e.Details = map[string]string{}
		}
		e.Details[k], prev = v, k
	}
	if len(b) != 0 {
		return 0, e, errors.New("trailing bytes")
	}
	return seq, e, nil
}

// FuzzCanonical: encoding never panics, is deterministic, decodes back to
// exactly the event (so it is injective), and moving one byte between any
// two adjacent fields, or changing the seq, changes it.
func FuzzCanonical(f *testing.F) {
	f.Add(int64(1), int64(0), "user:a", "auth.login", "client:x", "success", "", "127.0.0.1", "req", "k", "v", "k2", "v2")
	f.Add(int64(-1), int64(1<<62), "", "", "", "", "", "", "", "", "", "", "")
	f.Add(int64(9), int64(-5), "ab", "c", "", "d", "e\x00", "f", "g", "kk", "", "k", "\xff")
	f.Fuzz(func(t *testing.T, seq, ns int64, actor, action, target, outcome, reason, addr, reqID, k1, v1, k2, v2 string) {
		e := audit.Event{Time: time.Unix(0, ns).UTC(), Actor: actor, Action: action, Target: target, Outcome: outcome,
			Reason: reason, ClientAddr: addr, RequestID: reqID, Details: map[string]string{k1: v1, k2: v2}}
		c := audit.Canonical(seq, &e)
		if !bytes.Equal(c, audit.Canonical(seq, &e)) {
			t.Fatal("not deterministic")
		}
		gotSeq, got, err := decodeCanonical(c)
		if err != nil || gotSeq != seq || !got.Time.Equal(e.Time) || !maps.Equal(got.Details, e.Details) ||
			got.Actor != actor || got.Action != action || got.Target != target || got.Outcome != outcome ||
			got.Reason != reason || got.ClientAddr != addr || got.RequestID != reqID {
			t.Fatalf("does not decode back (%v): %+v", err, got)
		}
		if bytes.Equal(c, audit.Canonical(seq+1, &e)) {
			t.Fatal("seq not encoded")
		}
		fields := []*string{&e.Actor, &e.Action, &e.Target, &e.Outcome, &e.Reason, &e.ClientAddr, &e.RequestID}
		for i := 0; i+1 < len(fields); i++ {
			if *fields[i] == "" {
				continue
			}
			moved := e
			mf := []*string{&moved.Actor, &moved.Action, &moved.Target, &moved.Outcome, &moved.Reason, &moved.ClientAddr, &moved.RequestID}
			s := *fields[i]
			*mf[i], *mf[i+1] = s[:len(s)-1], s[len(s)-1:]+*fields[i+1]
			if bytes.Equal(c, audit.Canonical(seq, &moved)) {
				t.Fatalf("moving a byte from field %d to field %d kept the encoding", i, i+1)
			}
		}
		if k1 != "" && k1 != k2 {
			moved := e
			moved.Details = map[string]string{k1[:len(k1)-1]: k1[len(k1)-1:] + v1, k2: v2}
			if _, clash := e.Details[k1[:len(k1)-1]]; !clash && bytes.Equal(c, audit.Canonical(seq, &moved)) {
				t.Fatal("moving a byte from a detail key to its value kept the encoding")
			}
		}
		empty := e
		empty.Details = nil
		if len(e.Details) > 0 && bytes.Equal(c, audit.Canonical(seq, &empty)) {
			t.Fatal("details not encoded")
		}
	})
}
