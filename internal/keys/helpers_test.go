package keys_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// The SQL store is the keys.Store (guard here: sqlstore imports keys).
var _ keys.Store = (*sqlstore.KeyStore)(nil)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newClock returns the kit's fake clock at t0, injected as clock.Now.
func newClock() *testkit.Clock { return testkit.NewClock(t0) }

// recorder is an in-memory Auditor; fail makes Record fail.
type recorder struct {
	mu     sync.Mutex
	events []audit.Event
	fail   atomic.Bool
}

var errAuditDown = errors.New("audit store unavailable")

func (r *recorder) Record(_ context.Context, e audit.Event) error {
	if r.fail.Load() {
		return errAuditDown
	}
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	return nil
}

func (r *recorder) Events() []audit.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]audit.Event(nil), r.events...)
}

// actions lists "action target outcome" of the events from index from.
func (r *recorder) actions(from int) []string {
	var out []string
	for _, e := range r.Events()[from:] {
		out = append(out, e.Action+" "+e.Target+" "+e.Outcome)
	}
	return out
}

// countingStore counts generation queries on a real store.
type countingStore struct {
	*storetest.Store
	genQueries atomic.Int64
}

func (s *countingStore) KeyRingGeneration(ctx context.Context) (int64, error) {
	s.genQueries.Add(1)
	return s.Store.KeyRingGeneration(ctx)
}

// testMaster is the test kit's master key, parsed as serve parses it: its
// key-encryption key at version 1.
func testMaster(t testing.TB) *kms.KEK {
	t.Helper()
	mk, err := kms.LoadMasterKey("", testkit.MasterKeyBase64)
	if err != nil {
		t.Fatal(err)
	}
	k, err := kms.NewKEK(mk, 1)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// opts are the defaults used by tests: config defaults, a 10 m token TTL.
func testOpts(st keys.Store, mk keys.Sealer, clock *testkit.Clock, aud keys.Auditor) keys.Options {
	return keys.Options{
		Store:            st,
		Master:           mk,
		Algorithm:        keys.AlgES256,
		RotationPeriod:   720 * time.Hour,
		PublishAhead:     time.Hour,
		MaxTokenLifetime: 10 * time.Minute,
		JWKSMaxAge:       5 * time.Minute,
		Clock:            clock.Now,
		Logger:           quietLogger(),
		Auditor:          aud,
	}
}

func newManager(t testing.TB, o keys.Options) *keys.Manager {
	t.Helper()
	m, err := keys.NewManager(o)
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	return m
}

// openShared opens two independent handles on one fresh database, like two
// instances (or the server and the CLI) sharing it.
func openShared(t *testing.T, driver string) (*storetest.Store, *storetest.Store, string) {
	t.Helper()
	drv, dsn := storetest.DSN(t, driver)
	open := func() *storetest.Store {
		s, err := sqlstore.Open(context.Background(), drv, dsn, sqlstore.Options{MaxOpenConns: 8})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return storetest.Wrap(s)
	}
	a := open()
	if _, err := a.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return a, open(), dsn
}

// stateCounts counts the stored keys by state.
func stateCounts(t testing.TB, st keys.Store) map[keys.State]int {
	t.Helper()
	kr, err := st.LoadKeyRing(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := map[keys.State]int{}
	for _, k := range kr.Keys {
		n[k.State]++
	}
	return n
}

// jwksKIDs returns the kids of m's JWKS in order.
func jwksKIDs(m *keys.Manager) []string {
	var out []string
	for _, k := range m.PublicJWKS().Keys {
		out = append(out, k.KeyID)
	}
	return out
}

func activeKID(t testing.TB, m *keys.Manager) string {
	t.Helper()
	k, err := m.Signer()
	if err != nil {
		t.Fatalf("Signer: %v", err)
	}
	return k.KID
}
