package audit_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// stuckStore is a database that hangs: AppendAudit waits until release is
// closed, then appends to the real store.
type stuckStore struct {
	audit.Store
	entered chan struct{}
	release chan struct{}
}

func (s *stuckStore) AppendAudit(ctx context.Context, seal func(int64, []byte) ([]audit.Record, error)) error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-s.release
	return s.Store.AppendAudit(ctx, seal)
}

func newStuck(t *testing.T) *stuckStore {
	return &stuckStore{Store: storetest.Open(t, sqlstore.SQLite), entered: make(chan struct{}, 1), release: make(chan struct{})}
}

// TestRecordGivesUpWithItsContext: a caller whose deadline passes gets an
// error (and fails its action); Close honours its own deadline while the
// database hangs, and drains once the database answers.
func TestRecordGivesUpWithItsContext(t *testing.T) {
	st := newStuck(t)
	l, err := audit.New(audit.Options{Store: st, HMACKey: testKey, BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() { first <- l.Record(context.Background(), event(1)) }()
	<-st.entered

	// The writer is stuck on event 1; event 2 waits in the queue. Its caller
	// reuses the details map after giving up: the Log must hold its own copy.
	e2 := event(2)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := l.Record(ctx, e2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Record with an expired context: %v", err)
	}
	e2.Details["i"] = "changed after Record returned"
	cctx, ccancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer ccancel()
	if err := l.Close(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close while the database hangs: %v", err)
	}
	if err := l.Record(context.Background(), event(3)); !errors.Is(err, audit.ErrClosed) {
		t.Fatalf("Record after Close: %v", err)
	}
	close(st.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Event 2 was queued before its caller gave up: it is committed, as the
	// caller saw it then, and the chain verifies.
	res, err := audit.Verify(context.Background(), st.Store, nil)
	if err != nil || res.Records != 2 {
		t.Fatalf("%v, %d records", err, res.Records)
	}
	recs, _ := audit.Tail(context.Background(), st.Store, 1)
	if recs[0].Details["i"] != "2" {
		t.Fatalf("details %v", recs[0].Details)
	}
}

func TestRecordWithDoneContextIsNotQueued(t *testing.T) {
	s := storetest.Open(t, sqlstore.SQLite)
	l := newLog(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Record(ctx, event(1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	_ = l.Close(context.Background())
	if recs, _ := s.ScanAudit(context.Background(), 0, 10); len(recs) != 0 {
		t.Fatalf("%d records", len(recs))
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	s := storetest.Open(t, sqlstore.SQLite)
	conflicting := prometheus.NewRegistry()
	conflicting.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "rampart_audit_batch_size", Help: "not a histogram"}))
	cases := map[string]audit.Options{
		"reject/no-store":           {HMACKey: testKey},
		"reject/no-key":             {Store: s},
		"reject/short-key":          {Store: s, HMACKey: make([]byte, 31)},
		"reject/conflicting-metric": {Store: s, HMACKey: testKey, Registerer: conflicting},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			if l, err := audit.New(opts); err == nil {
				_ = l.Close(context.Background())
				t.Fatal("accepted")
			}
		})
	}
}

func TestPseudonymizeFormat(t *testing.T) {
	l := newLog(t, failingStore{})
	p := l.Pseudonymize("correct horse battery staple")
	// "hmac:" + base64url of 16 bytes, no padding.
	if len(p) != len("hmac:")+22 || strings.ContainsAny(p[5:], "+/=") || strings.Contains(p, "horse") {
		t.Fatalf("pseudonym %q", p)
	}
	if l.Pseudonymize("") == l.Pseudonymize(" ") {
		t.Fatal("collision")
	}
	// The key is copied: changing the caller's slice changes nothing.
	key := bytes.Clone(testKey)
	l2, err := audit.New(audit.Options{Store: failingStore{}, HMACKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close(context.Background())
	before := l2.Pseudonymize("alice")
	key[0] ^= 1
	if l2.Pseudonymize("alice") != before {
		t.Fatal("the Log uses the caller's key slice")
	}
}

func TestTailBounds(t *testing.T) {
	s := fill(t, sqlstore.SQLite, 3)
	for _, n := range []int{0, -1, audit.MaxTail + 1} {
		if _, err := audit.Tail(context.Background(), s, n); err == nil {
			t.Fatalf("Tail(%d) accepted", n)
		}
	}
	recs, err := audit.Tail(context.Background(), s, 10)
	if err != nil || len(recs) != 3 || recs[0].Seq != 1 {
		t.Fatalf("%v %+v", err, recs)
	}
}
