package agent

import (
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/testkit"
)

const svcA = "spiffe://example.test/svc/a"

// TestEnrolImportedRoot: a CA whose root was imported from another PKI
// (no spiffe://<td> URI SAN) is trusted through the token's pin, and the
// trust domain is the one the CA's verified leaf names; a server leaf of
// another ID under that root is still refused.
func TestEnrolImportedRoot(t *testing.T) {
	ca := newFakeCA(t, testTD, withUnnamedRoot())
	cfg, logs := testConfig(t, ca)
	cfg.JoinTokenFile = writeToken(t, ca.joinToken(svcA))
	r := startAgent(t, cfg, logs)
	waitFiles(t, r, cfg.OutDir)
	s, err := loadSVIDFiles(cfg.OutDir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if s.id.String() != svcA || s.td.Name() != testTD {
		t.Fatalf("files hold %s of %s", s.id, s.td)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
}

func TestEnrolWithJoinToken(t *testing.T) {
	ca := newFakeCA(t, testTD)
	cfg, logs := testConfig(t, ca)
	cfg.JoinTokenFile = writeToken(t, ca.joinToken(svcA))
	r := startAgent(t, cfg, logs)
	waitFiles(t, r, cfg.OutDir)

	if got := ca.issues.Load(); got != 1 {
		t.Fatalf("issues = %d, want 1", got)
	}
	if auth, _ := ca.lastAuth.Load().(string); !strings.HasPrefix(auth, "Bearer rjt1.") {
		t.Fatalf("Authorization = %q, want the join token", auth)
	}
	s, err := loadSVIDFiles(cfg.OutDir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if s.id.String() != svcA || s.td.Name() != testTD {
		t.Fatalf("files hold %s of %s", s.id, s.td)
	}
	if s.crl == nil {
		t.Fatal("crl.pem missing or invalid")
	}
	checkModes(t, cfg.OutDir)

	sr := socketSVID(t, cfg.Socket, "")
	if sr.SPIFFEID != svcA || sr.Version < 1 || sr.Bundles[testTD] == "" || sr.CRL == "" || !strings.Contains(sr.Key, "PRIVATE KEY") {
		t.Fatalf("socket answer %+v", sr)
	}
	if sr.SVID != string(s.chainPEM) {
		t.Fatal("socket and files disagree on the SVID")
	}
	if st, err := os.Stat(cfg.Socket); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode: %v %v", st.Mode(), err)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	if _, err := os.Stat(cfg.Socket); !os.IsNotExist(err) {
		t.Fatalf("socket file left after stop: %v", err)
	}
}

// checkModes asserts the contract's modes: dir 0700, key 0600, others 0644,
// and no temporary file left behind.
func checkModes(t *testing.T, dir string) {
	t.Helper()
	want := map[string]os.FileMode{fileKey: 0o600, fileSVID: 0o644, fileBundle: 0o644, fileCRL: 0o644}
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("out dir mode %v, %v", st.Mode().Perm(), err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		m, ok := want[e.Name()]
		if !ok {
			t.Errorf("unexpected file %s in the out dir", e.Name())
			continue
		}
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != m {
			t.Errorf("%s mode %v, want %v", e.Name(), info.Mode().Perm(), m)
		}
		delete(want, e.Name())
	}
	for name := range want {
		t.Errorf("%s missing", name)
	}
}

func TestEnrolWithClientCredentials(t *testing.T) {
	ca := newFakeCA(t, testTD)
	ca.addClient("billing svc", "s3cr:et+/", svcA)
	cfg, logs := testConfig(t, ca)
	cfg.ClientID = "billing svc"
	cfg.ClientSecretFile = writeToken(t, "s3cr:et+/")
	cfg.BundleFile = filepath.Join(t.TempDir(), "bundle.pem")
	testkit.WriteFile(t, cfg.BundleFile, ca.bundlePEM())
	cfg.SPIFFEID = svcA
	r := startAgent(t, cfg, logs)
	waitFiles(t, r, cfg.OutDir)
	if ca.issues.Load() != 1 {
		t.Fatalf("issues = %d", ca.issues.Load())
	}
}

// TestRestartRenewsWithExistingSVID: a second run over the same --out
// renews over mTLS with the SVID found there; the (consumed) join token
// is neither read nor sent.
func TestRestartRenewsWithExistingSVID(t *testing.T) {
	ca := newFakeCA(t, testTD)
	cfg, logs := testConfig(t, ca)
	cfg.JoinTokenFile = writeToken(t, ca.joinToken(svcA))
	r := startAgent(t, cfg, logs)
	waitFiles(t, r, cfg.OutDir)
	first := currentLeafSerial(t, cfg.OutDir)
	firstKey, err := os.ReadFile(filepath.Join(cfg.OutDir, fileKey))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}

	if err := os.Remove(cfg.JoinTokenFile); err != nil { // gone: must not be needed
		t.Fatal(err)
	}
	r2 := startAgent(t, cfg, logs)
	testkit.WaitFor(t, "renewal", 10*time.Second, func() bool { return ca.renewals.Load() == 1 })
	testkit.WaitFor(t, "new svid.pem", 10*time.Second, func() bool { return currentLeafSerial(t, cfg.OutDir) != first })
	if ca.issues.Load() != 1 {
		t.Fatalf("issues = %d, want 1 (no second token use)", ca.issues.Load())
	}
	if auth, _ := ca.lastAuth.Load().(string); auth != "" {
		t.Fatalf("renewal sent Authorization %q", auth)
	}
	s, err := loadSVIDFiles(cfg.OutDir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := parseKeyPEM(firstKey); k == nil || publicKeysEqual(k.Public(), s.cert.Leaf.PublicKey) {
		t.Fatal("the renewal reused the previous key")
	}
	if r2.exited() {
		t.Fatalf("agent exited: %v", r2.err)
	}
}

// TestRenewsAtHalfLife: 4 s SVIDs (backdated a minute, as the CA does) are
// renewed at half of the lifetime left when they arrived, ±10 % of that
// half. NotAfter has one-second resolution, so the lifetime is between
// 3 and 4 s; the expectation is computed from each certificate, with some
// slack for the request latency of a loaded test machine.
func TestRenewsAtHalfLife(t *testing.T) {
	ca := newFakeCA(t, testTD)
	ca.setTTL(4 * time.Second)
	cfg, logs := testConfig(t, ca)
	cfg.JoinTokenFile = writeToken(t, ca.joinToken(svcA))
	startAgent(t, cfg, logs)
	testkit.WaitFor(t, "4 SVIDs", 20*time.Second, func() bool { return len(ca.issueTimes()) >= 4 })
	times, exps := ca.issueTimes(), ca.expiries()
	for i := 1; i < len(times); i++ {
		half := exps[i-1].Sub(times[i-1]) / 2
		gap := times[i].Sub(times[i-1])
		lo, hi := half-half/10-300*time.Millisecond, half+half/10+400*time.Millisecond
		if gap < lo || gap > hi {
			t.Errorf("renewal %d came %s after the previous SVID, want %s..%s (half of its lifetime ± 10%%)", i, gap, lo, hi)
		}
	}
	if ca.issues.Load() != 1 {
		t.Fatalf("issues = %d, want 1: renewals use mTLS", ca.issues.Load())
	}
	code, body := getSocket(t, cfg.Socket, "/metrics")
	for _, want := range []string{`rampart_agent_renewals_total{outcome="success"}`, "rampart_agent_svid_expiry_timestamp_seconds", "rampart_agent_svid_expiring 0"} {
		if code != 200 || !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

// TestCADownKeepsServingThenExits: with the CA down the agent serves the
// SVID it has until expiry, warns from 25 % of the lifetime left, sets
// rampart_agent_svid_expiring, then exits with ExpiredError and removes
// nothing.
func TestCADownKeepsServingThenExits(t *testing.T) {
	ca := newFakeCA(t, testTD)
	ca.setTTL(3 * time.Second)
	ca.backdate = 0
	cfg, logs := testConfig(t, ca)
	cfg.JoinTokenFile = writeToken(t, ca.joinToken(svcA))
	r := startAgent(t, cfg, logs)
	waitFiles(t, r, cfg.OutDir)
	ca.down.Store(true)
	first := socketSVID(t, cfg.Socket, "")
	sawExpiring := false
	for !r.exited() {
		// The agent may expire or exit between two looks: only answers
		// that arrive are checked.
		if code, m, err := tryGet(cfg.Socket, "/metrics"); err == nil && code == 200 &&
			strings.Contains(string(m), "rampart_agent_svid_expiring 1") {
			sawExpiring = true
		}
		if code, b, err := tryGet(cfg.Socket, "/v1/svid"); err == nil && code == 200 {
			var sr socketResponse
			if err := json.Unmarshal(b, &sr); err != nil || sr.SVID != first.SVID {
				t.Fatal("the SVID changed while the CA was down")
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	err := r.wait(t, time.Second)
	if !isErr[*ExpiredError](err) || !strings.Contains(err.Error(), "new join token") {
		t.Fatalf("Run = %v, want ExpiredError naming a new join token", err)
	}
	if !sawExpiring {
		t.Error("rampart_agent_svid_expiring never 1")
	}
	out := logs.String()
	if !strings.Contains(out, `"level":"WARN","msg":"agent: SVID renewal failed and the SVID expires soon`) {
		t.Errorf("no WARN from 25%% left:\n%s", out)
	}
	if !strings.Contains(out, `"level":"ERROR"`) {
		t.Errorf("no ERROR at expiry:\n%s", out)
	}
	for _, name := range []string{fileSVID, fileKey, fileBundle, fileCRL} {
		if _, err := os.Stat(filepath.Join(cfg.OutDir, name)); err != nil {
			t.Errorf("%s removed: %v", name, err)
		}
	}
}

// TestCAOutageShorterThanLifetime: the CA down across the renewal point
// and back before expiry costs nothing: the agent renews when it returns.
func TestCAOutageShorterThanLifetime(t *testing.T) {
	ca := newFakeCA(t, testTD)
	ca.setTTL(4 * time.Second)
	cfg, logs := testConfig(t, ca)
	cfg.JoinTokenFile = writeToken(t, ca.joinToken(svcA))
	r := startAgent(t, cfg, logs)
	waitFiles(t, r, cfg.OutDir)
	ca.down.Store(true)
	time.Sleep(2500 * time.Millisecond)
	ca.down.Store(false)
	testkit.WaitFor(t, "renewal after the outage", 5*time.Second, func() bool { return ca.renewals.Load() >= 1 })
	if r.exited() {
		t.Fatalf("agent exited: %v", r.err)
	}
	if !strings.Contains(logs.String(), "renewal failed") {
		t.Error("failed attempts not logged")
	}
}

// TestRevokedRenewalRefused: a renewal the CA refuses (revoked SVID) is
// retried until expiry, then the agent exits: it does not fall back to
// the consumed join token.
func TestRevokedRenewalRefused(t *testing.T) {
	ca := newFakeCA(t, testTD)
	ca.setTTL(4 * time.Second) // room for a slow handshake on a loaded machine
	ca.backdate = 0
	cfg, logs := testConfig(t, ca)
	cfg.JoinTokenFile = writeToken(t, ca.joinToken(svcA))
	r := startAgent(t, cfg, logs)
	waitFiles(t, r, cfg.OutDir)
	s, err := loadSVIDFiles(cfg.OutDir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ca.revoke(s.cert.Leaf.SerialNumber)
	err = r.wait(t, 10*time.Second)
	if !isErr[*ExpiredError](err) {
		t.Fatalf("Run = %v, want ExpiredError", err)
	}
	if ca.refusals.Load() == 0 || ca.issues.Load() != 1 {
		t.Fatalf("refusals %d issues %d; logs:\n%s", ca.refusals.Load(), ca.issues.Load(), logs.String())
	}
}

// TestAttackFirstContactOtherRoot: a server with another root (a man in
// the middle, or the wrong CA) is refused on first contact, before the
// join token is sent.
func TestAttackFirstContactOtherRoot(t *testing.T) {
	real := newFakeCA(t, testTD)
	impostor := newFakeCA(t, testTD)
	cfg, logs := testConfig(t, impostor)
	tok := real.joinToken(svcA)
	impostor.tokens[tok] = &fakeToken{id: spiffeid.RequireFromString(svcA)} // it would accept it
	cfg.JoinTokenFile = writeToken(t, tok)
	r := startAgent(t, cfg, logs)
	err := r.wait(t, 10*time.Second)
	if !isErr[*trustError](err) || !strings.Contains(err.Error(), "pinned") {
		t.Fatalf("Run = %v, want a trust error about the pinned root", err)
	}
	if impostor.requests.Load() != 0 {
		t.Fatal("the join token reached the impostor")
	}
	if _, err := os.Stat(filepath.Join(cfg.OutDir, fileSVID)); !os.IsNotExist(err) {
		t.Fatal("an SVID was written")
	}
}

// TestAttackFirstContactNotTheCA: the right root, but the server's SVID is
// a workload's, not spiffe://<td>/rampart/ca: refused.
func TestAttackFirstContactNotTheCA(t *testing.T) {
	for name, opts := range map[string][]fakeOpt{
		"named-root":    {withServerID("/svc/evil")},
		"imported-root": {withServerID("/svc/evil"), withUnnamedRoot()}, // the leaf names the trust domain: still not the CA
	} {
		t.Run(name, func(t *testing.T) {
			ca := newFakeCA(t, testTD, opts...)
			cfg, logs := testConfig(t, ca)
			cfg.JoinTokenFile = writeToken(t, ca.joinToken(svcA))
			err := startAgent(t, cfg, logs).wait(t, 10*time.Second)
			if !isErr[*trustError](err) || !strings.Contains(err.Error(), "not the CA") {
				t.Fatalf("Run = %v, want refusal of a non-CA server", err)
			}
			if ca.requests.Load() != 0 {
				t.Fatal("the join token was sent")
			}
		})
	}
}

// TestAttackWrongKeyIssued: an answer certifying a key other than the
// agent's is refused (and not written).
func TestAttackWrongKeyIssued(t *testing.T) {
	ca := newFakeCA(t, testTD)
	ca.wrongKey.Store(true)
	cfg, logs := testConfig(t, ca)
	cfg.JoinTokenFile = writeToken(t, ca.joinToken(svcA))
	r := startAgent(t, cfg, logs)
	testkit.WaitFor(t, "the refusal logged", 10*time.Second, func() bool {
		return strings.Contains(logs.String(), "not for the agent's key")
	})
	if _, err := os.Stat(filepath.Join(cfg.OutDir, fileSVID)); !os.IsNotExist(err) {
		t.Fatal("an SVID was written")
	}
	_ = r
}

func TestJoinTokenFileErrors(t *testing.T) {
	ca := newFakeCA(t, testTD)
	dir := t.TempDir()
	wellFormedUnknown := func() string {
		tok := ca.joinToken(svcA)
		delete(ca.tokens, tok)
		return tok
	}()
	for _, tc := range []struct {
		name    string
		content *string
		usage   bool
	}{
		{"usage/missing", nil, true},
		{"usage/empty", ptr(""), true},
		{"usage/whitespace", ptr(" \n"), true},
		{"usage/garbage", ptr("hello"), true},
		{"usage/bad-pin", ptr("rjt1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.short"), true},
		{"fail/refused-by-ca", ptr(wellFormedUnknown), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, logs := testConfig(t, ca)
			cfg.JoinTokenFile = filepath.Join(dir, strings.ReplaceAll(tc.name, "/", "-"))
			if tc.content != nil {
				testkit.WriteFile(t, cfg.JoinTokenFile, []byte(*tc.content))
			}
			err := startAgent(t, cfg, logs).wait(t, 10*time.Second)
			if tc.usage != isErr[*UsageError](err) {
				t.Fatalf("Run = %v (%T), usage error %v", err, err, tc.usage)
			}
			if !tc.usage && (!isErr[*JoinTokenRefusedError](err) || !strings.Contains(err.Error(), "new join token")) {
				t.Fatalf("Run = %v, want JoinTokenRefusedError", err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestOtherIDInOutDirEnrolsAnew: --spiffe-id differs from the SVID in
// --out: the agent enrols with the token instead of renewing the other ID.
func TestOtherIDInOutDirEnrolsAnew(t *testing.T) {
	ca := newFakeCA(t, testTD)
	cfg, logs := testConfig(t, ca)
	cfg.JoinTokenFile = writeToken(t, ca.joinToken(svcA))
	r := startAgent(t, cfg, logs)
	waitFiles(t, r, cfg.OutDir)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	const svcB = "spiffe://example.test/svc/b"
	cfg.SPIFFEID = svcB
	cfg.JoinTokenFile = writeToken(t, ca.joinToken(svcB))
	startAgent(t, cfg, logs)
	testkit.WaitFor(t, "svc/b", 10*time.Second, func() bool {
		s, err := loadSVIDFiles(cfg.OutDir, time.Now())
		return err == nil && s.id.String() == svcB
	})
	if ca.renewals.Load() != 0 || ca.issues.Load() != 2 {
		t.Fatalf("renewals %d issues %d", ca.renewals.Load(), ca.issues.Load())
	}
}

var _ = x509.Certificate{}
