package secrets_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/audittest"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// recorder is an Auditor keeping every event.
type recorder struct{ audittest.Recorder }

func (r *recorder) last(t *testing.T) audit.Event {
	t.Helper()
	es := r.All()
	if len(es) == 0 {
		t.Fatal("no audit event")
	}
	return es[len(es)-1]
}

// env is a manager over a real store with a fake clock.
type env struct {
	st    *storetest.Store
	kr    *kms.Keyring
	rec   *recorder
	clock *testkit.Clock
	opts  secrets.Options
	m     *secrets.Manager
}

var admin = secrets.Principal{Kind: secrets.KindAdmin}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openKeyring(t testing.TB, st *storetest.Store, raw []byte) *kms.Keyring {
	t.Helper()
	mk, err := kms.NewMasterKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := kms.Open(context.Background(), st.KMS(), mk)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func newEnv(t testing.TB, driver string, mod ...func(*secrets.Options)) *env {
	t.Helper()
	st := storetest.Open(t, driver)
	kr := openKeyring(t, st, testkit.MasterKey())
	e := &env{st: st, kr: kr, rec: &recorder{}, clock: testkit.NewClock(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))}
	e.opts = secrets.Options{Store: st.DB.Secrets(), Sealer: kr, AuditKey: kr.DataKey(kms.DataKeySecretAudit), Audit: e.rec,
		Clock: e.clock.Now, Logger: quiet()}
	for _, f := range mod {
		f(&e.opts)
	}
	m, err := secrets.New(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	return e
}

func path(t testing.TB, s string) secrets.Path {
	t.Helper()
	p, err := secrets.ParsePath(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func val(s string) secrets.Value { return secrets.NewValue([]byte(s)) }

func i64(v int64) *int64 { return &v }

// put stores s at p as admin and returns the version.
func (e *env) put(t testing.TB, p, s string, o secrets.PutOptions) int64 {
	t.Helper()
	info, err := e.m.Put(context.Background(), admin, path(t, p), val(s), o)
	if err != nil {
		t.Fatalf("Put %s: %v", p, err)
	}
	return info.Version
}

// get reads p as admin with sel.
func (e *env) get(t testing.TB, p string, sel secrets.Selector) (secrets.Secret, error) {
	t.Helper()
	return e.m.Get(context.Background(), admin, path(t, p), sel)
}

func (e *env) mustGet(t testing.TB, p string, sel secrets.Selector) secrets.Secret {
	t.Helper()
	s, err := e.get(t, p, sel)
	if err != nil {
		t.Fatalf("Get %s %+v: %v", p, sel, err)
	}
	return s
}

// exec runs raw SQL (tampering) with ? placeholders.
func (e *env) exec(t testing.TB, q string, args ...any) {
	t.Helper()
	if _, err := e.st.SQL().ExecContext(context.Background(), e.st.Q(q), args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (e *env) secretID(t testing.TB, p string) string {
	t.Helper()
	var id string
	if err := e.st.SQL().QueryRowContext(context.Background(), e.st.Q("SELECT id FROM secrets WHERE path = ?"), p).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}
