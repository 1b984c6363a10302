package pgrotate

import (
	"context"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secrets/rotation"
)

// engineEnv is the real rotation Engine driving a pgrotate rotator, the
// Manager and the run store on SQLite.
type engineEnv struct {
	e    *rotation.Engine
	m    *secrets.Manager
	path secrets.Path
	rec  *recorder
}

func newEngineEnv(t testing.TB, f *fixture, strategy string) *engineEnv {
	t.Helper()
	rec := &recorder{}
	db, m := newStoreManager(t, rec)
	r := newRotator(t, f, strategy, func(o *Options) { o.Audit = rec })
	p, err := secrets.ParsePath("db/engine-" + randHex(t, 4))
	if err != nil {
		t.Fatal(err)
	}
	e, err := rotation.New(rotation.Options{Manager: m, Store: db.SecretRotations(), Audit: rec, Logger: quiet(),
		Schedules: []rotation.Schedule{{Path: p, Rotator: "postgres", Impl: r}}})
	if err != nil {
		t.Fatal(err)
	}
	return &engineEnv{e: e, m: m, path: p, rec: rec}
}

func (ee *engineEnv) rotate(ctx context.Context, now bool) error {
	st, err := ee.e.Rotate(ctx, sys, ee.path, rotation.Request{Now: now, Reason: "test"})
	if err != nil {
		return err
	}
	if st.Step != rotation.StepDone {
		return &stepNotDone{st.Step}
	}
	return nil
}

type stepNotDone struct{ s rotation.Step }

func (e *stepNotDone) Error() string { return "rotation ended at step " + string(e.s) }

func (ee *engineEnv) current(t testing.TB) secrets.Secret {
	t.Helper()
	s, err := ee.m.Get(bg(), sys, ee.path, secrets.Selector{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestEngineAlternatingZeroFailedQueries: TestAlternatingZeroFailedQueries
// with the real rotation Engine (persisted runs, check-and-set, label
// moves) in place of the test driver.
func TestEngineAlternatingZeroFailedQueries(t *testing.T) {
	pool := adminPool(t)
	f := newFixture(t, pool)
	ee := newEngineEnv(t, f, StrategyAlternating)
	if err := ee.rotate(bg(), false); err != nil {
		t.Fatal(err)
	}
	runZeroFailedQueries(t, f, ee.m, ee.path, func(ctx context.Context) error { return ee.rotate(ctx, false) })
}

// TestEngineEmergencyEndsThePreviousCredential: an emergency rotation
// (Request.Now) through the Engine ends the previous credential and its
// session at once; the new one works; the audit trail has the engine's
// steps and the rotator's database changes.
func TestEngineEmergencyEndsThePreviousCredential(t *testing.T) {
	pool := adminPool(t)
	f := newFixture(t, pool)
	ee := newEngineEnv(t, f, StrategyAlternating)
	for range 2 {
		if err := ee.rotate(bg(), false); err != nil {
			t.Fatal(err)
		}
	}
	held := ee.current(t)
	ctx, cancel := context.WithTimeout(bg(), 30*time.Second)
	defer cancel()
	session, err := f.connect(ctx, held.Value)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = session.Close(bg()) }()
	if err := ee.rotate(bg(), true); err != nil {
		t.Fatal(err)
	}
	now := ee.current(t)
	if err := f.works(now.Value); err != nil {
		t.Fatalf("new credential: %v", err)
	}
	if err := f.works(held.Value); sqlState(err) != invalidPassword || f.canLogin(t, userOf(t, held)) {
		t.Fatalf("the previous credential still logs in: %v", err)
	}
	if err := f.query(ctx, session); err == nil {
		t.Fatal("the previous credential's session survived")
	}
	var steps, ops []string
	for _, e := range ee.rec.All() {
		if e.Action != audit.ActionSecretRotate || e.Details["emergency"] != "true" {
			continue
		}
		if e.Details["run_id"] != "" {
			steps = append(steps, e.Details["step"])
		} else {
			ops = append(ops, e.Details["op"])
		}
	}
	t.Logf("engine steps %v, rotator ops %v", steps, ops)
	if len(steps) < 4 || len(ops) != 4 {
		t.Fatalf("audit: engine steps %v, rotator ops %v", steps, ops)
	}
}

// BenchmarkEngineAlternatingRotation: one full rotation through the real
// Engine (persisted run steps included) on real PostgreSQL.
func BenchmarkEngineAlternatingRotation(b *testing.B) {
	pool := adminPool(b)
	f := newFixture(b, pool)
	ee := newEngineEnv(b, f, StrategyAlternating)
	if err := ee.rotate(bg(), false); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := ee.rotate(bg(), false); err != nil {
			b.Fatal(err)
		}
	}
}
