package sqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

var _ audit.Store = (*sqlstore.AuditStore)(nil)

func auditEvent(i int) audit.Event {
	return audit.Event{Time: time.Unix(0, 1_800_000_000_000_000_000+int64(i)).UTC(), Actor: fmt.Sprintf("user:%d", i),
		Action: "test.event", Outcome: audit.OutcomeSuccess, RequestID: fmt.Sprintf("req-%d", i)}
}

// sealer chains events after the head it is given, as audit.Log does.
func sealer(events []audit.Event) func(int64, []byte) ([]audit.Record, error) {
	return func(prevSeq int64, prevHash []byte) ([]audit.Record, error) {
		out := make([]audit.Record, len(events))
		for i := range events {
			seq := prevSeq + int64(i) + 1
			h := audit.ChainHash(prevHash, audit.Canonical(seq, &events[i]))
			out[i] = audit.Record{Seq: seq, Event: events[i], PrevHash: prevHash, Hash: h}
			prevHash = h
		}
		return out, nil
	}
}

func auditEvents(from, n int) []audit.Event {
	out := make([]audit.Event, n)
	for i := range out {
		out[i] = auditEvent(from + i)
	}
	return out
}

// TestAuditAppendChunks appends batches larger than one INSERT statement
// carries and reads them back page by page.
func TestAuditAppendChunks(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			s := storetest.Open(t, driver)
			total := 0
			for _, n := range []int{1, 250, 1000, 99} {
				if err := s.AppendAudit(ctx, sealer(auditEvents(total, n))); err != nil {
					t.Fatalf("append %d: %v", n, err)
				}
				total += n
			}
			head, hash, err := s.AuditHead(ctx)
			if err != nil || head != int64(total) {
				t.Fatalf("head %d (err %v), want %d", head, err, total)
			}
			var got []audit.Record
			for after := int64(0); ; {
				page, err := s.ScanAudit(ctx, after, 300)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				got = append(got, page...)
				after = page[len(page)-1].Seq
			}
			if len(got) != total || !bytes.Equal(got[total-1].Hash, hash) {
				t.Fatalf("read %d records, want %d", len(got), total)
			}
			for i, r := range got {
				want := auditEvent(i)
				if r.Seq != int64(i+1) || r.Malformed != "" || !r.Time.Equal(want.Time) || r.Actor != want.Actor || r.RequestID != want.RequestID {
					t.Fatalf("record %d: %+v", i+1, r)
				}
			}
			if res, err := audit.Verify(ctx, s, nil); err != nil || res.Records != int64(total) {
				t.Fatalf("verify: %v %s", err, res)
			}
			last, err := s.LastAudit(ctx, 3)
			if err != nil || len(last) != 3 || last[0].Seq != int64(total-2) || last[2].Seq != int64(total) {
				t.Fatalf("LastAudit: %v %d", err, len(last))
			}
		})
	}
}

// TestAuditAppendFailureChangesNothing: a seal that fails, or returns
// records that do not continue the head, leaves log and head untouched.
func TestAuditAppendFailureChangesNothing(t *testing.T) {
	bad := errors.New("seal failed")
	cases := map[string]func(int64, []byte) ([]audit.Record, error){
		"reject/seal-error": func(int64, []byte) ([]audit.Record, error) { return nil, bad },
		"reject/wrong-seq": func(seq int64, h []byte) ([]audit.Record, error) {
			return sealer(auditEvents(0, 3))(seq+1, h)
		},
		"reject/wrong-prev-hash": func(seq int64, _ []byte) ([]audit.Record, error) {
			return sealer(auditEvents(0, 3))(seq, make([]byte, 32))
		},
		"reject/gap-inside-batch": func(seq int64, h []byte) ([]audit.Record, error) {
			recs, _ := sealer(auditEvents(0, 3))(seq, h)
			recs[2].Seq++
			return recs, nil
		},
		"reject/duplicate-seq-in-log": func(seq int64, h []byte) ([]audit.Record, error) {
			return sealer(auditEvents(0, 1))(seq-1, h) // would also fail on the primary key
		},
	}
	for _, driver := range storetest.Drivers(t) {
		for name, seal := range cases {
			t.Run(driver+"/"+name, func(t *testing.T) {
				ctx := context.Background()
				s := storetest.Open(t, driver)
				if err := s.AppendAudit(ctx, sealer(auditEvents(0, 2))); err != nil {
					t.Fatal(err)
				}
				_, before, _ := s.AuditHead(ctx)
				if err := s.AppendAudit(ctx, seal); err == nil {
					t.Fatal("append succeeded")
				}
				seq, after, err := s.AuditHead(ctx)
				if err != nil || seq != 2 || !bytes.Equal(before, after) {
					t.Fatalf("head moved to %d", seq)
				}
				if res, err := audit.Verify(ctx, s, nil); err != nil || res.Records != 2 {
					t.Fatalf("verify: %v %s", err, res)
				}
			})
		}
	}
}

// TestAuditHeadLockSerializesAppends: appenders on separate connection
// pools (separate instances) each see the head the previous one left,
// although every seal takes a while: the head row is held for the whole
// transaction.
func TestAuditHeadLockSerializesAppends(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			driver, dsn := storetest.DSN(t, driver)
			const n = 8
			var (
				mu   sync.Mutex
				seen []int64
				wg   sync.WaitGroup
			)
			stores := make([]*storetest.Store, n)
			for i := range stores {
				s, err := sqlstore.Open(ctx, driver, dsn, sqlstore.Options{MaxOpenConns: 1})
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				stores[i] = storetest.Wrap(s)
			}
			if _, err := stores[0].Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			for i := range n {
				wg.Go(func() {
					err := stores[i].AppendAudit(ctx, func(prevSeq int64, prevHash []byte) ([]audit.Record, error) {
						mu.Lock()
						seen = append(seen, prevSeq)
						mu.Unlock()
						time.Sleep(5 * time.Millisecond)
						return sealer(auditEvents(i, 1))(prevSeq, prevHash)
					})
					if err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			slices.Sort(seen)
			if !slices.Equal(seen, []int64{0, 1, 2, 3, 4, 5, 6, 7}) {
				t.Fatalf("heads seen %v: two appenders read the same head", seen)
			}
			if res, err := audit.Verify(ctx, stores[0], nil); err != nil || res.Records != n {
				t.Fatalf("verify: %v %s", err, res)
			}
		})
	}
}

func TestAuditDetailsRoundTrip(t *testing.T) {
	details := map[string]string{"html": `<a href="x">&amp;</a>`, "uni": "Zoë 李 🙂", "empty": "", "quote": `"'\`, "path": "/a/b?c=d"}
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			s := storetest.Open(t, driver)
			e := auditEvent(1)
			e.Details = details
			if err := s.AppendAudit(ctx, sealer([]audit.Event{e, auditEvent(2)})); err != nil {
				t.Fatal(err)
			}
			recs, err := s.ScanAudit(ctx, 0, 10)
			if err != nil || len(recs) != 2 {
				t.Fatal(err)
			}
			if recs[0].Malformed != "" || recs[1].Malformed != "" || len(recs[0].Details) != len(details) || len(recs[1].Details) != 0 {
				t.Fatalf("%+v", recs)
			}
			for k, v := range details {
				if recs[0].Details[k] != v {
					t.Fatalf("details[%q] = %q, want %q", k, recs[0].Details[k], v)
				}
			}
			if _, err := audit.Verify(ctx, s, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestAuditReadErrors(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			s := storetest.Open(t, driver)
			if _, err := s.ScanAudit(ctx, 0, 0); err == nil {
				t.Fatal("ScanAudit with limit 0 accepted")
			}
			if _, err := s.LastAudit(ctx, -1); err == nil {
				t.Fatal("LastAudit with n -1 accepted")
			}
			if _, err := s.SQL().ExecContext(ctx, "DELETE FROM audit_head"); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.AuditHead(ctx); err == nil {
				t.Fatal("a missing head row went unnoticed")
			}
			if err := s.AppendAudit(ctx, sealer(auditEvents(0, 1))); err == nil {
				t.Fatal("appended without a head row")
			}
		})
	}
}
