package rotation_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secrets/rotation"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/audittest"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// recorder is an Auditor keeping every event.
type recorder struct{ audittest.Recorder }

// rotateEvents returns the secret.rotate events' steps with outcomes
// ("create", "test!" for a failure).
func (r *recorder) rotateSteps() []string {
	var out []string
	for _, e := range r.All() {
		if e.Action != audit.ActionSecretRotate {
			continue
		}
		s := e.Details["step"]
		if e.Details["op"] != "" {
			s = e.Details["op"] + ":" + s
		}
		if e.Outcome != audit.OutcomeSuccess {
			s += "!"
		}
		out = append(out, s)
	}
	return out
}

var (
	admin = secrets.Principal{Kind: secrets.KindAdmin}
	t0    = time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC) // a Saturday
)

// env is a Manager and an Engine over one real store with a fake clock.
type env struct {
	db    *sqlstore.DB
	kr    *kms.Keyring
	rec   *recorder
	logs  *testkit.SyncBuffer
	clock *testkit.Clock
	m     *secrets.Manager
	e     *rotation.Engine
	opts  rotation.Options
}

func newEnv(t testing.TB, driver string, scheds []rotation.Schedule, mod ...func(*rotation.Options)) *env {
	t.Helper()
	st := storetest.Open(t, driver)
	return newEnvOn(t, st.DB, testkit.NewClock(t0), scheds, mod...)
}

// newEnvOn builds the env over db (a fresh Engine, as a restarted
// instance would).
func newEnvOn(t testing.TB, db *sqlstore.DB, clock *testkit.Clock, scheds []rotation.Schedule, mod ...func(*rotation.Options)) *env {
	t.Helper()
	mk, err := kms.NewMasterKey(testkit.MasterKey())
	if err != nil {
		t.Fatal(err)
	}
	kr, err := kms.Open(context.Background(), db.KMS(), mk)
	if err != nil {
		t.Fatal(err)
	}
	ev := &env{db: db, kr: kr, rec: &recorder{}, logs: &testkit.SyncBuffer{}, clock: clock}
	log := slog.New(slog.NewTextHandler(ev.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ev.m, err = secrets.New(secrets.Options{Store: db.Secrets(), Sealer: kr, AuditKey: kr.DataKey(kms.DataKeySecretAudit),
		Audit: ev.rec, Clock: clock.Now, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ev.opts = rotation.Options{Manager: ev.m, Store: db.SecretRotations(), Schedules: scheds, Audit: ev.rec, Clock: clock.Now, Logger: log}
	for _, f := range mod {
		f(&ev.opts)
	}
	ev.e, err = rotation.New(ev.opts)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func path(t testing.TB, s string) secrets.Path {
	t.Helper()
	p, err := secrets.ParsePath(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func randomRotator(t testing.TB) rotation.Rotator {
	t.Helper()
	r, err := rotation.NewRandom(32, "alnum")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// put stores s at p as admin and returns the version.
func (ev *env) put(t testing.TB, p secrets.Path, s string) int64 {
	t.Helper()
	info, err := ev.m.Put(context.Background(), admin, p, secrets.NewValue([]byte(s)), secrets.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return info.Version
}

// state returns the secret's labels and its versions' labels.
func (ev *env) state(t testing.TB, p secrets.Path) (secrets.Meta, []secrets.VersionInfo) {
	t.Helper()
	meta, vs, err := ev.m.Versions(context.Background(), admin, p)
	if err != nil {
		t.Fatal(err)
	}
	return meta, vs
}

// checkRotated asserts the rotation invariants: exactly one version
// labelled current, newer than old, previous at old, no pending label,
// versions in all, and the rotator's Test passing on current.
func (ev *env) checkRotated(t testing.TB, p secrets.Path, r rotation.Rotator, old int64, versions int) secrets.Secret {
	t.Helper()
	meta, vs := ev.state(t, p)
	n := 0
	for _, v := range vs {
		if slices.Contains(v.Labels, secrets.LabelCurrent) {
			n++
		}
	}
	cur := meta.Labels[secrets.LabelCurrent]
	if n != 1 || cur <= old {
		t.Fatalf("current: %d versions carry it, at %d (old %d): %+v", n, cur, old, meta.Labels)
	}
	if _, ok := meta.Labels[secrets.LabelPending]; ok {
		t.Fatalf("a pending label is left: %+v", meta.Labels)
	}
	if old != 0 && meta.Labels[secrets.LabelPrevious] != old {
		t.Fatalf("previous is at %d, want the old current %d", meta.Labels[secrets.LabelPrevious], old)
	}
	if versions != 0 && len(vs) != versions {
		t.Fatalf("%d versions, want %d (a step ran twice?)", len(vs), versions)
	}
	s, err := ev.m.Get(context.Background(), admin, p, secrets.Selector{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Test(context.Background(), s); err != nil {
		t.Fatalf("the rotator's Test fails on current: %v", err)
	}
	return s
}

// noValue asserts the value appears in no audit event and no log line.
func (ev *env) noValue(t testing.TB, what string, v []byte) {
	t.Helper()
	if len(v) == 0 {
		return
	}
	if ev.rec.Contains(string(v)) {
		t.Fatalf("%s: a value is in an audit event", what)
	}
	if strings.Contains(ev.logs.String(), string(v)) {
		t.Fatalf("%s: a value is in a log line", what)
	}
}

// fakeRotator records its calls; fail makes a method fail.
type fakeRotator struct {
	mu    sync.Mutex
	inner rotation.Rotator
	fail  map[string]error
	calls []string
}

func (f *fakeRotator) called(name string, emergency bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("%s(%v)", name, emergency))
	return f.fail[name]
}

func (f *fakeRotator) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeRotator) NewValue(ctx context.Context, cur secrets.Secret) (secrets.Value, error) {
	if err := f.called("NewValue", false); err != nil {
		return secrets.Value{}, err
	}
	return f.inner.NewValue(ctx, cur)
}

func (f *fakeRotator) Set(ctx context.Context, cur, pending secrets.Secret, emergency bool) error {
	if err := f.called("Set", emergency); err != nil {
		return err
	}
	return f.inner.Set(ctx, cur, pending, emergency)
}

func (f *fakeRotator) Test(ctx context.Context, pending secrets.Secret) error {
	if err := f.called("Test", false); err != nil {
		return err
	}
	return f.inner.Test(ctx, pending)
}

func (f *fakeRotator) Finish(ctx context.Context, prev, cur secrets.Secret, emergency bool) error {
	if err := f.called("Finish", emergency); err != nil {
		return err
	}
	return f.inner.Finish(ctx, prev, cur, emergency)
}

// revoker records RevokePath calls.
type revoker struct {
	mu    sync.Mutex
	paths []secrets.Path
}

func (r *revoker) RevokePath(_ context.Context, p secrets.Principal, path secrets.Path) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.Kind != secrets.KindSystem {
		return 0, secrets.ErrForbidden
	}
	r.paths = append(r.paths, path)
	return 2, nil
}

func newClock() *testkit.Clock { return testkit.NewClock(t0) }

// secretsZero is the "no current version" Secret at p.
func secretsZero(p secrets.Path) secrets.Secret { return secrets.Secret{Path: p} }

func mustParseKey(t testing.TB, pemBytes []byte) crypto.Signer {
	t.Helper()
	blk, _ := pem.Decode(pemBytes)
	if blk == nil {
		t.Fatal("no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(crypto.Signer)
}
