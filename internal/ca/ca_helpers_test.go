package ca_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/ca"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

var td = spiffeid.RequireTrustDomainFromString("example.test")

// recorder is an Auditor keeping every event.
type recorder struct {
	mu     sync.Mutex
	events []audit.Event
}

func (r *recorder) Record(_ context.Context, e audit.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return nil
}

// find returns the events of action with outcome.
func (r *recorder) find(action, outcome string) []audit.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []audit.Event
	for _, e := range r.events {
		if e.Action == action && e.Outcome == outcome {
			out = append(out, e)
		}
	}
	return out
}

// contains reports whether s appears in any field of any event.
func (r *recorder) contains(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		all := e.Actor + e.Action + e.Target + e.Reason
		for k, v := range e.Details {
			all += k + v
		}
		if strings.Contains(all, s) {
			return true
		}
	}
	return false
}

// env is one CA over a real store with a fake clock.
type env struct {
	t     *testing.T
	st    *storetest.Store
	clock *testkit.Clock
	kr    *kms.Keyring
	rec   *recorder
	opts  ca.Options
	a     *ca.Authority
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// keyring opens the store's keyring with the test master key.
func keyring(t testing.TB, st *storetest.Store, raw []byte) *kms.Keyring {
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

// newEnv initialises a CA (generated root) in a fresh store of driver.
func newEnv(t *testing.T, driver string) *env {
	t.Helper()
	e := uninitEnv(t, driver)
	a, err := ca.Init(context.Background(), e.opts, nil)
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	e.a = a
	return e
}

// uninitEnv is newEnv without Init.
func uninitEnv(t *testing.T, driver string) *env {
	t.Helper()
	e := makeEnv(t, driver)
	e.t = t
	return e
}

// uninitEnvB is uninitEnv for a benchmark (SQLite, no-op auditor).
func uninitEnvB(b *testing.B) *env {
	e := makeEnv(b, "sqlite")
	e.opts.Audit = noopAuditor{}
	return e
}

func makeEnv(t testing.TB, driver string) *env {
	t.Helper()
	st := storetest.Open(t, driver)
	e := &env{st: st, clock: testkit.NewClock(time.Now().UTC().Truncate(time.Second)), rec: &recorder{}}
	e.kr = keyring(t, st, testkit.MasterKey())
	e.opts = ca.Options{Store: st.CA(), Sealer: e.kr, Audit: e.rec, TrustDomain: td, Clock: e.clock.Now, Logger: quiet()}
	return e
}

// peer opens a second Authority (another node) on the same store.
func (e *env) peer() *ca.Authority {
	e.t.Helper()
	a, err := ca.Open(context.Background(), e.opts)
	if err != nil {
		e.t.Fatalf("Open: %v", err)
	}
	return a
}

// csr returns a P-256 CSR (DER) for id ("" for none) with dns names, and
// its key.
func csr(t testing.TB, id string, dns ...string) ([]byte, crypto.Signer) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return csrWith(t, key, id, dns...), key
}

func csrWith(t testing.TB, key crypto.Signer, id string, dns ...string) []byte {
	t.Helper()
	tmpl := &x509.CertificateRequest{DNSNames: dns}
	if id != "" {
		u, err := url.Parse(id)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = []*url.URL{u}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// token creates a join token bound to id.
func (e *env) token(id string) string {
	e.t.Helper()
	sid := spiffeid.RequireFromString(id)
	tok, _, err := e.a.CreateJoinToken(context.Background(), ca.JoinTokenSpec{ID: &sid}, "cli:test")
	if err != nil {
		e.t.Fatalf("CreateJoinToken: %v", err)
	}
	return tok
}

// enrol issues an SVID for id with a fresh join token.
func (e *env) enrol(id string, dns ...string) (*ca.SVID, crypto.Signer) {
	e.t.Helper()
	der, key := csr(e.t, id, dns...)
	s, err := e.a.Issue(context.Background(), ca.IssueRequest{CSR: der, Cred: ca.JoinTokenCred{Token: e.token(id)}, ClientIP: "192.0.2.1"})
	if err != nil {
		e.t.Fatalf("Issue %s: %v", id, err)
	}
	return s, key
}

// code returns the ca.Error code of err (0 when not one).
func code(err error) ca.ErrorCode {
	var ce *ca.Error
	if err == nil || !errors.As(err, &ce) {
		return 0
	}
	return ce.Code
}

// forEachDriver runs f on sqlite, and postgres when configured.
func forEachDriver(t *testing.T, f func(t *testing.T, driver string)) {
	for _, d := range storetest.Drivers(t) {
		t.Run(d, func(t *testing.T) { f(t, d) })
	}
}

// pool returns a CertPool of certs.
func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

func mustID(s string) spiffeid.ID { return spiffeid.RequireFromString(s) }

func asError(err error, target **ca.Error) bool { return errors.As(err, target) }

type urlT = url.URL

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func last[T any](s []T) T { return s[len(s)-1] }
