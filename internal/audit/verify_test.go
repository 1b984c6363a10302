package audit_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

func exec(t *testing.T, s *storetest.Store, query string, args ...any) {
	t.Helper()
	if _, err := s.SQL().ExecContext(context.Background(), s.Q(query), args...); err != nil {
		t.Fatalf("tamper %q: %v", query, err)
	}
}

// sqlTamper returns a tamper step running one '?' statement.
func sqlTamper(query string, args ...any) func(*testing.T, *storetest.Store) {
	return func(t *testing.T, s *storetest.Store) { exec(t, s, query, args...) }
}

// rehash edits record seq's actor and stores a hash recomputed for the new
// contents, as a careful attacker would, leaving the next record alone.
func rehash(seq int64) func(*testing.T, *storetest.Store) {
	return func(t *testing.T, s *storetest.Store) {
		recs, err := s.ScanAudit(context.Background(), seq-1, 1)
		if err != nil || len(recs) != 1 {
			t.Fatalf("read record %d: %v", seq, err)
		}
		r := recs[0]
		r.Actor = "user:mallory"
		hash := audit.ChainHash(r.PrevHash, audit.Canonical(r.Seq, &r.Event))
		exec(t, s, "UPDATE audit_log SET actor = ?, hash = ? WHERE seq = ?", r.Actor, hash, seq)
	}
}

// appendOutside inserts a correctly chained record 11 without moving the
// head, as someone forging evidence with the SQL shell would.
func appendOutside(t *testing.T, s *storetest.Store) {
	recs, err := s.LastAudit(context.Background(), 1)
	if err != nil || len(recs) != 1 {
		t.Fatalf("read last record: %v", err)
	}
	e := event(11)
	e.Time = recs[0].Time
	hash := audit.ChainHash(recs[0].Hash, audit.Canonical(11, &e))
	exec(t, s, "INSERT INTO audit_log (seq, ts, actor, action, target, outcome, reason, client_addr, request_id, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		11, e.Time.UnixNano(), e.Actor, e.Action, e.Target, e.Outcome, e.Reason, e.ClientAddr, e.RequestID, `{"i":"11"}`, recs[0].Hash, hash)
}

// swapRows exchanges every column but seq between records a and b.
func swapRows(a, b int64) func(*testing.T, *storetest.Store) {
	return func(t *testing.T, s *storetest.Store) {
		exec(t, s, "UPDATE audit_log SET seq = -seq WHERE seq IN (?, ?)", a, b)
		exec(t, s, "UPDATE audit_log SET seq = seq + ? WHERE seq < 0", a+b) // -a -> b, -b -> a
	}
}

const tamperedRows = 10

// TestVerifyDetectsTampering edits a verified 10-record log through SQL, as
// an insider with database access would, and checks that Verify fails
// naming the first record that does not hold and why.
func TestVerifyDetectsTampering(t *testing.T) {
	cases := []struct {
		name    string
		only    string // run on this driver only ("" for both)
		tamper  []func(*testing.T, *storetest.Store)
		wantSeq int64
		want    string
	}{
		{name: "intact"},
		{name: "reject/edited-actor", tamper: tampers(sqlTamper("UPDATE audit_log SET actor = ? WHERE seq = ?", "user:mallory", 5)), wantSeq: 5, want: "hash does not match its contents (edited?)"},
		{name: "reject/edited-action", tamper: tampers(sqlTamper("UPDATE audit_log SET action = ? WHERE seq = ?", "test.other", 5)), wantSeq: 5, want: "edited"},
		{name: "reject/edited-target", tamper: tampers(sqlTamper("UPDATE audit_log SET target = ? WHERE seq = ?", "thing:y", 5)), wantSeq: 5, want: "edited"},
		{name: "reject/edited-outcome", tamper: tampers(sqlTamper("UPDATE audit_log SET outcome = ? WHERE seq = ?", audit.OutcomeFailure, 5)), wantSeq: 5, want: "edited"},
		{name: "reject/edited-reason", tamper: tampers(sqlTamper("UPDATE audit_log SET reason = ? WHERE seq = ?", "harmless", 5)), wantSeq: 5, want: "edited"},
		{name: "reject/edited-client-addr", tamper: tampers(sqlTamper("UPDATE audit_log SET client_addr = ? WHERE seq = ?", "10.0.0.1", 5)), wantSeq: 5, want: "edited"},
		{name: "reject/edited-request-id", tamper: tampers(sqlTamper("UPDATE audit_log SET request_id = ? WHERE seq = ?", "req-x", 5)), wantSeq: 5, want: "edited"},
		{name: "reject/edited-time", tamper: tampers(sqlTamper("UPDATE audit_log SET ts = ts + 1 WHERE seq = ?", 7)), wantSeq: 7, want: "edited"},
		{name: "reject/edited-details", tamper: tampers(sqlTamper("UPDATE audit_log SET details = ? WHERE seq = ?", `{"i":"999"}`, 3)), wantSeq: 3, want: "edited"},
		{name: "reject/details-duplicate-key", tamper: tampers(sqlTamper("UPDATE audit_log SET details = ? WHERE seq = ?", `{"i":"999","i":"3"}`, 3)), wantSeq: 3, want: "column details is not the canonical JSON"},
		{name: "reject/details-reformatted", tamper: tampers(sqlTamper("UPDATE audit_log SET details = ? WHERE seq = ?", `{"i": "3"}`, 3)), wantSeq: 3, want: "column details"},
		{name: "reject/details-not-json", tamper: tampers(sqlTamper("UPDATE audit_log SET details = ? WHERE seq = ?", `i=3`, 3)), wantSeq: 3, want: "column details"},
		{name: "reject/edited-prev-hash", tamper: tampers(sqlTamper("UPDATE audit_log SET prev_hash = hash WHERE seq = ?", 4)), wantSeq: 4, want: "prev_hash does not link to record 3"},
		{name: "reject/edited-first-prev-hash", tamper: tampers(sqlTamper("UPDATE audit_log SET prev_hash = hash WHERE seq = ?", 1)), wantSeq: 1, want: "not the genesis"},
		{name: "reject/edited-hash", tamper: tampers(sqlTamper("UPDATE audit_log SET hash = prev_hash WHERE seq = ?", 6)), wantSeq: 6, want: "edited"},
		{name: "reject/rehashed-row", tamper: tampers(rehash(5)), wantSeq: 6, want: "prev_hash does not link to record 5 (record 5 replaced and rehashed"},
		{name: "reject/rehashed-last-row", tamper: tampers(rehash(tamperedRows)), wantSeq: tamperedRows, want: "head row names this record with another hash"},
		{name: "reject/deleted-first", tamper: tampers(sqlTamper("DELETE FROM audit_log WHERE seq = ?", 1)), wantSeq: 1, want: "expected seq 1, found 2 (deleted?)"},
		{name: "reject/deleted-middle", tamper: tampers(sqlTamper("DELETE FROM audit_log WHERE seq = ?", 4)), wantSeq: 4, want: "deleted"},
		{name: "reject/deleted-last", tamper: tampers(sqlTamper("DELETE FROM audit_log WHERE seq = ?", tamperedRows)), wantSeq: tamperedRows, want: "head says the log has 10 records, it ends at 9 (truncated?)"},
		{name: "reject/deleted-all", tamper: tampers(sqlTamper("DELETE FROM audit_log")), wantSeq: 1, want: "truncated"},
		{name: "reject/swapped-rows", tamper: tampers(swapRows(5, 6)), wantSeq: 5, want: "prev_hash does not link to record 4"},
		{name: "reject/swapped-actors", tamper: tampers(
			sqlTamper("UPDATE audit_log SET actor = ? WHERE seq = ?", "user:6", 5),
			sqlTamper("UPDATE audit_log SET actor = ? WHERE seq = ?", "user:5", 6)), wantSeq: 5, want: "edited"},
		{name: "reject/head-hash-replaced", tamper: tampers(sqlTamper("UPDATE audit_head SET hash = (SELECT prev_hash FROM audit_log WHERE seq = 10)")), wantSeq: tamperedRows, want: "head row names this record"},
		{name: "reject/head-rewound", tamper: tampers(sqlTamper("UPDATE audit_head SET seq = 5, hash = (SELECT hash FROM audit_log WHERE seq = 5)")), wantSeq: 6, want: "not covered by the head, which stops at 5"},
		{name: "reject/head-advanced", tamper: tampers(sqlTamper("UPDATE audit_head SET seq = 12")), wantSeq: 11, want: "truncated"},
		{name: "reject/head-emptied", tamper: tampers(sqlTamper("UPDATE audit_head SET seq = 0, hash = (SELECT prev_hash FROM audit_log WHERE seq = 1)")), wantSeq: 1, want: "not covered by the head"},
		{name: "reject/head-malformed", tamper: tampers(sqlTamper("UPDATE audit_head SET hash = ?", []byte("short"))), wantSeq: 0, want: "head row is malformed"},
		{name: "reject/appended-outside", tamper: tampers(appendOutside), wantSeq: 11, want: "not covered by the head, which stops at 10 (appended outside Rampart"},
		{name: "reject/appended-with-gap", tamper: tampers(sqlTamper("INSERT INTO audit_log SELECT seq + 100, ts, actor, action, target, outcome, reason, client_addr, request_id, details, prev_hash, hash FROM audit_log WHERE seq = 10")), wantSeq: 11, want: "expected seq 11, found 110"},
		// SQLite stores any type in any column; PostgreSQL refuses these.
		{name: "reject/time-as-text", only: sqlstore.SQLite, tamper: tampers(sqlTamper("UPDATE audit_log SET ts = 'yesterday' WHERE seq = ?", 2)), wantSeq: 2, want: "column ts holds a string, not an integer"},
		{name: "reject/actor-as-blob", only: sqlstore.SQLite, tamper: tampers(sqlTamper("UPDATE audit_log SET actor = CAST(actor AS BLOB) WHERE seq = ?", 2)), wantSeq: 2, want: "column actor holds a []uint8, not text"},
		{name: "reject/hash-as-text", only: sqlstore.SQLite, tamper: tampers(sqlTamper("UPDATE audit_log SET hash = hex(hash) WHERE seq = ?", 2)), wantSeq: 2, want: "column hash"},
	}
	for _, driver := range storetest.Drivers(t) {
		for _, tc := range cases {
			if tc.only != "" && tc.only != driver {
				continue
			}
			t.Run(driver+"/"+tc.name, func(t *testing.T) {
				s := fill(t, driver, tamperedRows)
				ctx := context.Background()
				for _, step := range tc.tamper {
					step(t, s)
				}
				res, err := audit.Verify(ctx, s, nil)
				if tc.want == "" {
					if err != nil || res.Records != tamperedRows {
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

func tampers(fs ...func(*testing.T, *storetest.Store)) []func(*testing.T, *storetest.Store) {
	return fs
}

// TestVerifyKnownGap pins down what the chain alone cannot detect, so the
// signed checkpoints of a later issue turn these into failures on purpose:
// cutting the tail and rewinding the head to the new last record, and
// rewriting every record from some point on together with the head.
func TestVerifyKnownGap(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver+"/tail-cut-and-head-rewound", func(t *testing.T) {
			s := fill(t, driver, tamperedRows)
			exec(t, s, "DELETE FROM audit_log WHERE seq > 8")
			exec(t, s, "UPDATE audit_head SET seq = 8, hash = (SELECT hash FROM audit_log WHERE seq = 8)")
			res, err := audit.Verify(context.Background(), s, nil)
			if err != nil || res.Records != 8 {
				t.Fatalf("got %v, %d records; if checkpoints now catch this, move the case to TestVerifyDetectsTampering", err, res.Records)
			}
		})
	}
}

// TestVerifyWhileAppending runs Verify over and over while two Logs append:
// records committed during a verification are never reported as tampering.
func TestVerifyWhileAppending(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			s := fill(t, driver, 50)
			logs := []*audit.Log{newLog(t, s), newLog(t, s)}
			var (
				wg       sync.WaitGroup
				stop     atomic.Bool
				appended atomic.Int64
			)
			for w := range 8 {
				wg.Go(func() {
					for i := 0; !stop.Load(); i++ {
						if err := logs[w%2].Record(context.Background(), event(w*100000+i)); err != nil {
							t.Error(err)
							return
						}
						appended.Add(1)
					}
				})
			}
			deadline := time.Now().Add(2 * time.Second)
			runs := 0
			for ; runs < 20 && time.Now().Before(deadline); runs++ {
				if _, err := audit.Verify(context.Background(), s, nil); err != nil {
					stop.Store(true)
					wg.Wait()
					t.Fatalf("verification %d while appending: %v", runs+1, err)
				}
			}
			stop.Store(true)
			wg.Wait()
			res, err := audit.Verify(context.Background(), s, nil)
			if err != nil || res.Records != 50+appended.Load() {
				t.Fatalf("after appends stopped: %v, %d records, want %d", err, res.Records, 50+appended.Load())
			}
			t.Logf("%d verifications during %d appends", runs, appended.Load())
		})
	}
}

// TestVerifyProgressAndPages verifies a log longer than one page.
func TestVerifyProgressAndPages(t *testing.T) {
	s := storetest.Open(t, sqlstore.SQLite)
	l, err := audit.New(audit.Options{Store: s, HMACKey: testKey, BatchSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	const n = 4500
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := l.Record(context.Background(), event(i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var calls []int64
	res, err := audit.Verify(context.Background(), s, func(checked int64) { calls = append(calls, checked) })
	if err != nil || res.Records != n {
		t.Fatalf("%v, %d records", err, res.Records)
	}
	if len(calls) != 3 || calls[2] != n {
		t.Fatalf("progress calls %v", calls)
	}
	head, hash, err := s.AuditHead(context.Background())
	if err != nil || head != n || string(hash) != string(res.HeadHash) {
		t.Fatalf("head %d, %x; result %s", head, hash, res)
	}
}

func TestVerifyEmptyLog(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			s := storetest.Open(t, driver)
			res, err := audit.Verify(context.Background(), s, nil)
			if err != nil || res.Records != 0 || res.String() != "0 records (empty log)" {
				t.Fatalf("%v, %s", err, res)
			}
		})
	}
}
