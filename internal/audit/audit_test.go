package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
	"github.com/rampart-auth/rampart/internal/store/storetest"
)

var testKey = bytes.Repeat([]byte{7}, 32)

func newLog(t testing.TB, s audit.Store) *audit.Log {
	t.Helper()
	l, err := audit.New(audit.Options{Store: s, HMACKey: testKey, BatchSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	return l
}

func event(i int) audit.Event {
	return audit.Event{
		Actor: fmt.Sprintf("user:%d", i), Action: "test.event", Target: "thing:x", Outcome: audit.OutcomeSuccess,
		ClientAddr: "127.0.0.1", RequestID: fmt.Sprintf("req-%d", i), Details: map[string]string{"i": fmt.Sprint(i)},
	}
}

// fill records n events and returns the store.
func fill(t *testing.T, driver string, n int) *sqlstore.Store {
	t.Helper()
	s := storetest.Open(t, driver)
	l := newLog(t, s)
	for i := 1; i <= n; i++ {
		if err := l.Record(context.Background(), event(i)); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestVerifyDetectsTampering(t *testing.T) {
	cases := []struct {
		name    string
		tamper  []string // statements in '?' style
		args    [][]any
		wantSeq int64
		want    string
	}{
		{"intact", nil, nil, 0, ""},
		{"reject/edited-actor", []string{"UPDATE audit_log SET actor = ? WHERE seq = ?"}, [][]any{{"user:mallory", 5}}, 5, "edited"},
		{"reject/edited-details", []string{"UPDATE audit_log SET details = ? WHERE seq = ?"}, [][]any{{`{"i":"999"}`, 3}}, 3, "edited"},
		{"reject/edited-time", []string{"UPDATE audit_log SET ts = ts + 1 WHERE seq = ?"}, [][]any{{7}}, 7, "edited"},
		{"reject/deleted-middle", []string{"DELETE FROM audit_log WHERE seq = ?"}, [][]any{{4}}, 4, "deleted"},
		{"reject/deleted-first", []string{"DELETE FROM audit_log WHERE seq = ?"}, [][]any{{1}}, 1, "deleted"},
		{"reject/deleted-last", []string{"DELETE FROM audit_log WHERE seq = ?"}, [][]any{{10}}, 10, "truncated"},
		{"reject/swapped-contents", []string{
			"UPDATE audit_log SET actor = ? WHERE seq = ?", "UPDATE audit_log SET actor = ? WHERE seq = ?",
		}, [][]any{{"user:6", 5}, {"user:5", 6}}, 5, "edited"},
		{"reject/rehashed-row", []string{"UPDATE audit_log SET hash = prev_hash WHERE seq = ?"}, [][]any{{6}}, 6, "edited"},
		{"reject/head-replaced", []string{"UPDATE audit_head SET hash = prev_hash FROM audit_log WHERE audit_log.seq = 10"}, nil, 10, "head hash"},
		{"reject/appended-outside", []string{"INSERT INTO audit_log SELECT seq + 100, ts, actor, action, target, outcome, reason, client_addr, request_id, details, prev_hash, hash FROM audit_log WHERE seq = 10"}, nil, 11, "missing"},
	}
	for _, driver := range storetest.Drivers(t) {
		for _, tc := range cases {
			t.Run(driver+"/"+tc.name, func(t *testing.T) {
				s := fill(t, driver, 10)
				ctx := context.Background()
				for i, q := range tc.tamper {
					var args []any
					if tc.args != nil {
						args = tc.args[i]
					}
					if _, err := s.DB().ExecContext(ctx, s.Q(q), args...); err != nil {
						t.Fatalf("tamper %q: %v", q, err)
					}
				}
				res, err := audit.Verify(ctx, s, nil)
				if tc.want == "" {
					if err != nil || res.Records != 10 {
						t.Fatalf("untouched log: %v, %d records", err, res.Records)
					}
					return
				}
				var ce *audit.ChainError
				if !errors.As(err, &ce) {
					t.Fatalf("tampered log verified (err %v)", err)
				}
				if ce.Seq != tc.wantSeq || !strings.Contains(ce.Error(), tc.want) {
					t.Fatalf("got %q, want record %d mentioning %q", ce, tc.wantSeq, tc.want)
				}
			})
		}
	}
}

func TestConcurrentAppendsFormOneChain(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			s := storetest.Open(t, driver)
			// Two Logs on the same store stand for two instances.
			logs := []*audit.Log{newLog(t, s), newLog(t, s)}
			const workers, each = 16, 25
			var wg sync.WaitGroup
			errs := make(chan error, workers*each)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := 0; i < each; i++ {
						errs <- logs[w%2].Record(context.Background(), event(w*1000+i))
					}
				}(w)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			res, err := audit.Verify(context.Background(), s, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Records != workers*each {
				t.Fatalf("chain has %d records, want %d (lost or duplicated events)", res.Records, workers*each)
			}
			seen := map[string]bool{}
			recs, err := s.ScanAudit(context.Background(), 0, 10000)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				if seen[r.RequestID] {
					t.Fatalf("event %s stored twice", r.RequestID)
				}
				seen[r.RequestID] = true
			}
		})
	}
}

func TestRecordIsDurableWhenItReturns(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			s := storetest.Open(t, driver)
			l := newLog(t, s)
			if err := l.Record(context.Background(), event(1)); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := s.DB().QueryRow("SELECT COUNT(*) FROM audit_log").Scan(&n); err != nil || n != 1 {
				t.Fatalf("after Record returned, the row count is %d (err %v)", n, err)
			}
			if err := l.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := l.Record(context.Background(), event(2)); !errors.Is(err, audit.ErrClosed) {
				t.Fatalf("Record after Close: %v, want ErrClosed", err)
			}
		})
	}
}

// failingStore fails every append, as a dead database would.
type failingStore struct{ audit.Store }

func (failingStore) AppendAudit(context.Context, func(int64, []byte) ([]audit.Record, error)) error {
	return errors.New("database is down")
}

func TestRecordFailsClosed(t *testing.T) {
	l := newLog(t, failingStore{})
	if err := l.Record(context.Background(), event(1)); err == nil {
		t.Fatal("Record reported success although the store failed")
	}
}

func TestRecordRejectsHostileEvents(t *testing.T) {
	l := newLog(t, failingStore{}) // validation happens before the store
	long := strings.Repeat("a", 2000)
	many := map[string]string{}
	for i := 0; i < 40; i++ {
		many[fmt.Sprint(i)] = "v"
	}
	cases := map[string]audit.Event{
		"reject/empty-action":          {Outcome: audit.OutcomeSuccess},
		"reject/uppercase-action":      {Action: "Key.Rotate", Outcome: audit.OutcomeSuccess},
		"reject/action-with-space":     {Action: "key rotate", Outcome: audit.OutcomeSuccess},
		"reject/unknown-outcome":       {Action: "a", Outcome: "maybe"},
		"reject/newline-in-actor":      {Action: "a", Outcome: audit.OutcomeSuccess, Actor: "user:x\n2026 #9 success forged"},
		"reject/escape-in-target":      {Action: "a", Outcome: audit.OutcomeSuccess, Target: "\x1b[31mred"},
		"reject/invalid-utf8":          {Action: "a", Outcome: audit.OutcomeSuccess, Reason: "\xff\xfe"},
		"reject/oversized-field":       {Action: "a", Outcome: audit.OutcomeSuccess, Reason: long},
		"reject/too-many-details":      {Action: "a", Outcome: audit.OutcomeSuccess, Details: many},
		"reject/empty-detail-key":      {Action: "a", Outcome: audit.OutcomeSuccess, Details: map[string]string{"": "v"}},
		"reject/line-separator-detail": {Action: "a", Outcome: audit.OutcomeSuccess, Details: map[string]string{"k": "a\u2028b"}},
	}
	for name, e := range cases {
		t.Run(name, func(t *testing.T) {
			if err := l.Record(context.Background(), e); !errors.Is(err, audit.ErrInvalidEvent) {
				t.Fatalf("err %v, want ErrInvalidEvent", err)
			}
		})
	}
}

func TestPseudonymize(t *testing.T) {
	a := newLog(t, failingStore{})
	b, err := audit.New(audit.Options{Store: failingStore{}, HMACKey: bytes.Repeat([]byte{8}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	p1, p2 := a.Pseudonymize("alice"), a.Pseudonymize("alice")
	if p1 != p2 {
		t.Fatal("not deterministic")
	}
	if strings.Contains(p1, "alice") || !strings.HasPrefix(p1, "hmac:") {
		t.Fatalf("pseudonym %q", p1)
	}
	if p1 == a.Pseudonymize("bob") || p1 == b.Pseudonymize("alice") {
		t.Fatal("pseudonyms collide across values or keys")
	}
	if _, err := audit.New(audit.Options{Store: failingStore{}, HMACKey: make([]byte, 16)}); err == nil {
		t.Fatal("a 128-bit HMAC key was accepted")
	}
}

func TestTailAndFormat(t *testing.T) {
	s := fill(t, sqlstore.SQLite, 5)
	recs, err := audit.Tail(context.Background(), s, 3)
	if err != nil || len(recs) != 3 || recs[0].Seq != 3 || recs[2].Seq != 5 {
		t.Fatalf("Tail: %v %+v", err, recs)
	}
	var text, js bytes.Buffer
	for _, r := range recs {
		if err := audit.Format(&text, r, false); err != nil {
			t.Fatal(err)
		}
		if err := audit.Format(&js, r, true); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Count(text.String(), "\n"); got != 3 || !strings.Contains(text.String(), "#5 success test.event actor=user:5") {
		t.Fatalf("text output:\n%s", text.String())
	}
	if !strings.Contains(js.String(), `"seq":5`) || strings.Count(js.String(), "\n") != 3 {
		t.Fatalf("json output:\n%s", js.String())
	}
}

func TestTimeIsStoredExactly(t *testing.T) {
	s := storetest.Open(t, sqlstore.SQLite)
	at := time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.FixedZone("X", 3600))
	l, err := audit.New(audit.Options{Store: s, HMACKey: testKey, Clock: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	if err := l.Record(context.Background(), event(1)); err != nil {
		t.Fatal(err)
	}
	recs, _ := s.ScanAudit(context.Background(), 0, 1)
	if !recs[0].Time.Equal(at) {
		t.Fatalf("time %v, want %v", recs[0].Time, at)
	}
	if _, err := audit.Verify(context.Background(), s, nil); err != nil {
		t.Fatal(err)
	}
}

func TestMetricsSharedAcrossLogs(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := storetest.Open(t, sqlstore.SQLite)
	for i := 0; i < 2; i++ {
		l, err := audit.New(audit.Options{Store: s, HMACKey: testKey, Registerer: reg})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Record(context.Background(), event(i)); err != nil {
			t.Fatal(err)
		}
		_ = l.Close(context.Background())
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "rampart_audit_events_appended_total" {
			if got := mf.GetMetric()[0].GetCounter().GetValue(); got != 2 {
				t.Fatalf("appended = %v, want 2 (second Log must count into the registered counter)", got)
			}
			return
		}
	}
	t.Fatal("metric not exported")
}
