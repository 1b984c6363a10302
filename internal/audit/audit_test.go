package audit_test

import (
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
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// testKey is the audit HMAC key: in production it is derived from the
// master key; the tests use the kit's key bytes.
var testKey = testkit.MasterKey()

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
func fill(t *testing.T, driver string, n int) *storetest.Store {
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

// openTwice opens two handles (two connection pools, as two instances
// would have) on one fresh, migrated database.
func openTwice(t *testing.T, driver string) (*storetest.Store, *storetest.Store) {
	t.Helper()
	driver, dsn := storetest.DSN(t, driver)
	var out [2]*storetest.Store
	for i := range out {
		s, err := sqlstore.Open(context.Background(), driver, dsn, sqlstore.Options{MaxOpenConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		out[i] = storetest.Wrap(s)
	}
	if _, err := out[0].Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return out[0], out[1]
}

func TestConcurrentAppendsFormOneChain(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		for _, setup := range []struct {
			name   string
			stores func(t *testing.T) (*storetest.Store, *storetest.Store)
		}{
			{"two-logs-one-pool", func(t *testing.T) (*storetest.Store, *storetest.Store) {
				s := storetest.Open(t, driver)
				return s, s
			}},
			{"two-instances", func(t *testing.T) (*storetest.Store, *storetest.Store) { return openTwice(t, driver) }},
		} {
			t.Run(driver+"/"+setup.name, func(t *testing.T) {
				s1, s2 := setup.stores(t)
				logs := []*audit.Log{newLog(t, s1), newLog(t, s2)}
				const workers, each = 32, 25
				var wg sync.WaitGroup
				for w := range workers {
					wg.Go(func() {
						for i := range each {
							if err := logs[w%2].Record(context.Background(), event(w*1000+i)); err != nil {
								t.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				res, err := audit.Verify(context.Background(), s1, nil)
				if err != nil {
					t.Fatal(err)
				}
				if res.Records != workers*each {
					t.Fatalf("chain has %d records, want %d (lost or duplicated events)", res.Records, workers*each)
				}
				recs, err := s2.ScanAudit(context.Background(), 0, 10000)
				if err != nil {
					t.Fatal(err)
				}
				seen := map[string]bool{}
				for _, r := range recs {
					if seen[r.RequestID] {
						t.Fatalf("event %s stored twice", r.RequestID)
					}
					seen[r.RequestID] = true
				}
				for w := range workers {
					for i := range each {
						if id := event(w*1000 + i).RequestID; !seen[id] {
							t.Fatalf("event %s lost", id)
						}
					}
				}
			})
		}
	}
}

func TestRecordIsDurableWhenItReturns(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			s, reader := openTwice(t, driver)
			l := newLog(t, s)
			for i := 1; i <= 3; i++ {
				if err := l.Record(context.Background(), event(i)); err != nil {
					t.Fatal(err)
				}
				// Another pool sees the committed row as soon as Record returns.
				var n int
				if err := reader.SQL().QueryRow("SELECT COUNT(*) FROM audit_log").Scan(&n); err != nil || n != i {
					t.Fatalf("after Record %d returned, another connection counts %d rows (err %v)", i, n, err)
				}
			}
			if err := l.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := l.Record(context.Background(), event(4)); !errors.Is(err, audit.ErrClosed) {
				t.Fatalf("Record after Close: %v, want ErrClosed", err)
			}
			if err := l.Close(context.Background()); err != nil {
				t.Fatalf("second Close: %v", err)
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
	bulky := map[string]string{} // each detail within its cap, the sum above 16 KiB
	for i := 0; i < 20; i++ {
		bulky[fmt.Sprint(i)] = strings.Repeat("v", 1000)
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
		"reject/nul-in-reason":         {Action: "a", Outcome: audit.OutcomeSuccess, Reason: "a\x00b"},
		"reject/del-in-actor":          {Action: "a", Outcome: audit.OutcomeSuccess, Actor: "a\x7fb"},
		"reject/c1-csi-in-target":      {Action: "a", Outcome: audit.OutcomeSuccess, Target: "a\u009b31mb"},
		"reject/bidi-override":         {Action: "a", Outcome: audit.OutcomeSuccess, Actor: "user:\u202egnp.exe"},
		"reject/zero-width-space":      {Action: "a", Outcome: audit.OutcomeSuccess, Actor: "ad\u200bmin"},
		"reject/bom":                   {Action: "a", Outcome: audit.OutcomeSuccess, RequestID: "\ufeffreq"},
		"reject/empty-outcome":         {Action: "a"},
		"reject/long-action":           {Action: strings.Repeat("a", 65), Outcome: audit.OutcomeSuccess},
		"reject/uppercase-detail-key":  {Action: "a", Outcome: audit.OutcomeSuccess, Details: map[string]string{"Key": "v"}},
		"reject/detail-key-with-space": {Action: "a", Outcome: audit.OutcomeSuccess, Details: map[string]string{"k k": "v"}},
		"reject/oversized-detail":      {Action: "a", Outcome: audit.OutcomeSuccess, Details: map[string]string{"k": long}},
		"reject/oversized-event":       {Action: "a", Outcome: audit.OutcomeSuccess, Details: bulky},
		"reject/time-before-1678":      {Action: "a", Outcome: audit.OutcomeSuccess, Time: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)},
		"reject/time-after-2262":       {Action: "a", Outcome: audit.OutcomeSuccess, Time: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for name, e := range cases {
		t.Run(name, func(t *testing.T) {
			err := l.Record(context.Background(), e)
			if !errors.Is(err, audit.ErrInvalidEvent) {
				t.Fatalf("err %v, want ErrInvalidEvent", err)
			}
			if strings.ContainsAny(err.Error(), "\x00\x1b\x7f\n\u009b\u202e\u200b\ufeff") {
				t.Fatalf("the error repeats the hostile bytes: %q", err)
			}
		})
	}
	// A legitimate event with printable Unicode and punctuation passes.
	ok := audit.Event{Action: "auth.login", Outcome: audit.OutcomeDenied, Actor: "user:Zoë 李 🙂", Reason: "bad_password",
		ClientAddr: "2001:db8::1", Details: map[string]string{"client_id": "web", "scope.x-y_z": "a=b \"c\""}}
	if err := newLog(t, storetest.Open(t, sqlstore.SQLite)).Record(context.Background(), ok); err != nil {
		t.Fatalf("a legitimate event was refused: %v", err)
	}
}

func TestPseudonymize(t *testing.T) {
	a := newLog(t, failingStore{})
	b, err := audit.New(audit.Options{Store: failingStore{}, HMACKey: testkit.OtherMasterKey()})
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
