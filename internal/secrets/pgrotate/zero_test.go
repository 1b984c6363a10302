package pgrotate

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-auth/rampart/internal/secrets"
)

// load is what the clients of TestAlternatingZeroFailedQueries did.
type load struct {
	queries, failures, reconnects atomic.Int64
	mu                            sync.Mutex
	firstErrors                   []string
}

func (l *load) fail(what string, err error) {
	l.failures.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.firstErrors) < 5 {
		l.firstErrors = append(l.firstErrors, what+": "+err.Error())
	}
}

// client reads the current credential from the Manager on every
// iteration and runs a query on a new connection with it, and on its one
// long-lived session, which it reopens only when the value changed.
func client(ctx context.Context, f *fixture, m *secrets.Manager, path secrets.Path, l *load) {
	var long *pgx.Conn
	var held int64
	defer func() {
		if long != nil {
			_ = long.Close(context.Background())
		}
	}()
	for ctx.Err() == nil {
		s, err := m.Get(ctx, sys, path, secrets.Selector{})
		if err != nil {
			if ctx.Err() == nil {
				l.fail("read", err)
			}
			return
		}
		if err := f.works(s.Value); err != nil {
			l.fail(fmt.Sprintf("new connection (version %d)", s.Version), err)
		}
		l.queries.Add(1)
		if s.Version != held {
			if long != nil {
				_ = long.Close(ctx)
			}
			long, err = f.connect(ctx, s.Value)
			if err != nil {
				long = nil
				l.fail(fmt.Sprintf("long-lived session (version %d)", s.Version), err)
			} else {
				held = s.Version
				l.reconnects.Add(1)
			}
		}
		if long != nil {
			if err := f.query(ctx, long); err != nil && ctx.Err() == nil {
				l.fail(fmt.Sprintf("query on the long-lived session (version %d)", held), err)
				_ = long.Close(ctx)
				long, held = nil, 0
			}
			l.queries.Add(1)
		}
		select {
		case <-ctx.Done():
		case <-time.After(15 * time.Millisecond):
		}
	}
}

// TestAlternatingZeroFailedQueries: with two alternating users, 4 clients
// that always read the current credential see no failed query over more
// than 20 rotations, on new connections and on long-lived sessions.
func TestAlternatingZeroFailedQueries(t *testing.T) {
	pool := adminPool(t)
	f := newFixture(t, pool)
	m := newManager(t, &recorder{})
	d := newDriver(t, m, newRotator(t, f, StrategyAlternating), false)
	mustRotate(t, d, false)
	runZeroFailedQueries(t, f, m, d.path, func(ctx context.Context) error {
		_, err := d.rotate(ctx, false)
		return err
	})
}

// runZeroFailedQueries runs 4 clients against path while rotate runs
// every 600 ms, until 22 rotations are done; it asserts zero failures.
func runZeroFailedQueries(t *testing.T, f *fixture, m *secrets.Manager, path secrets.Path, rotate func(context.Context) error) {
	t.Helper()
	const want = 22
	ctx, cancel := context.WithTimeout(bg(), 90*time.Second)
	defer cancel()
	cctx, stop := context.WithCancel(ctx)
	l := &load{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); client(cctx, f, m, path, l) }()
	}
	rotations := 0
	users := map[string]bool{}
	tick := time.NewTicker(600 * time.Millisecond)
	for rotations < want && ctx.Err() == nil {
		<-tick.C
		if err := rotate(ctx); err != nil {
			t.Errorf("rotation %d: %v", rotations+1, err)
			break
		}
		rotations++
		s, err := m.Get(ctx, sys, path, secrets.Selector{})
		if err != nil {
			t.Fatal(err)
		}
		users[userOf(t, s)] = true
	}
	tick.Stop()
	// One more period with the last value, then stop the clients.
	time.Sleep(300 * time.Millisecond)
	stop()
	wg.Wait()
	t.Logf("%d rotations, %d queries, %d long-lived (re)connections, %d failures", rotations, l.queries.Load(), l.reconnects.Load(), l.failures.Load())
	if n := l.failures.Load(); n != 0 {
		t.Fatalf("%d failed queries, first: %v", n, l.firstErrors)
	}
	if rotations < 20 {
		t.Fatalf("%d rotations, want at least 20", rotations)
	}
	if len(users) != 2 {
		t.Fatalf("users used: %v, want both", users)
	}
	if l.queries.Load() < 4*int64(rotations) || l.reconnects.Load() < 4*int64(rotations)/2 {
		t.Fatalf("too little load to prove anything: %d queries, %d reconnections", l.queries.Load(), l.reconnects.Load())
	}
}

// TestSingleFailsClientsHoldingOldValue shows why the alternating
// strategy exists: with one user, a client that read the value before a
// rotation cannot open a new connection after it, until it reads again.
func TestSingleFailsClientsHoldingOldValue(t *testing.T) {
	pool := adminPool(t)
	f := newFixture(t, pool)
	m := newManager(t, &recorder{})
	d := newDriver(t, m, newRotator(t, f, StrategySingle), false)
	mustRotate(t, d, false)
	held, err := d.current(bg())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.works(held.Value); err != nil {
		t.Fatal(err)
	}
	mustRotate(t, d, false)
	if err := f.works(held.Value); sqlState(err) != invalidPassword {
		t.Fatalf("single: a client holding the old value connected (err %v), want %s", err, invalidPassword)
	}
	fresh, err := d.current(bg())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.works(fresh.Value); err != nil {
		t.Fatalf("after reading again: %v", err)
	}

	// The same client under the alternating strategy keeps working.
	fa := newFixture(t, pool)
	da := newDriver(t, m, newRotator(t, fa, StrategyAlternating), false)
	mustRotate(t, da, false)
	heldA, err := da.current(bg())
	if err != nil {
		t.Fatal(err)
	}
	mustRotate(t, da, false)
	if err := fa.works(heldA.Value); err != nil {
		t.Fatalf("alternating: a client holding the old value failed: %v", err)
	}
}
