package agent

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/testkit"
)

// TestRefreshPicksUpRevocation: between renewals the agent fetches the
// CRL every half of its validity; a revocation reaches crl.pem and the
// socket (a new version) well before the SVID's renewal.
func TestRefreshPicksUpRevocation(t *testing.T) {
	ca := newFakeCA(t, testTD)
	ca.crlValidity = 2 * time.Second // refreshed every second
	cfg, logs := testConfig(t, ca)
	cfg.JoinTokenFile = writeToken(t, ca.joinToken(svcA))
	r := startAgent(t, cfg, logs)
	waitFiles(t, r, cfg.OutDir)
	v := socketSVID(t, cfg.Socket, "").Version
	victim := issuedSVID(t, ca) // another workload's SVID
	ca.revoke(victim.cert.Leaf.SerialNumber)
	testkit.WaitFor(t, "the revocation in crl.pem", 10*time.Second, func() bool {
		b, err := os.ReadFile(filepath.Join(cfg.OutDir, fileCRL))
		if err != nil {
			return false
		}
		crl, err := parseCRLPEM(b)
		if err != nil {
			return false
		}
		for _, e := range crl.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(victim.cert.Leaf.SerialNumber) == 0 {
				return true
			}
		}
		return false
	})
	if got := socketSVID(t, cfg.Socket, ""); got.Version <= v {
		t.Fatalf("socket version %d after the CRL update, was %d", got.Version, v)
	}
	if ca.renewals.Load() != 0 {
		t.Fatal("a renewal happened: the CRL came through it, not the refresh")
	}
}

// TestClientCredentialsReenrolAfterRefusal: with client credentials a
// refused renewal is followed by an enrolment with the credentials.
func TestClientCredentialsReenrolAfterRefusal(t *testing.T) {
	ca := newFakeCA(t, testTD)
	ca.setTTL(2 * time.Second)
	ca.addClient("svc-a", "secret", svcA)
	cfg, logs := testConfig(t, ca)
	cfg.ClientID, cfg.ClientSecretFile = "svc-a", writeToken(t, "secret")
	cfg.BundleFile = filepath.Join(t.TempDir(), "bundle.pem")
	testkit.WriteFile(t, cfg.BundleFile, ca.bundlePEM())
	r := startAgent(t, cfg, logs)
	waitFiles(t, r, cfg.OutDir)
	s, err := loadSVIDFiles(cfg.OutDir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ca.revoke(s.cert.Leaf.SerialNumber)
	testkit.WaitFor(t, "a second enrolment with the credentials", 10*time.Second, func() bool { return ca.issues.Load() >= 2 })
	if r.exited() {
		t.Fatalf("agent exited: %v", r.err)
	}
}

// TestMetricsListen: --metrics-listen serves the agent's metrics over
// plain HTTP on loopback.
func TestMetricsListen(t *testing.T) {
	ca := newFakeCA(t, testTD)
	cfg, logs := testConfig(t, ca)
	cfg.JoinTokenFile = writeToken(t, ca.joinToken(svcA))
	cfg.MetricsListen = testkit.FreeAddr(t)
	r := startAgent(t, cfg, logs)
	waitFiles(t, r, cfg.OutDir)
	resp, err := http.Get("http://" + cfg.MetricsListen + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `rampart_agent_renewals_total{outcome="success"} 1`) {
		t.Fatalf("metrics: %d\n%s", resp.StatusCode, b)
	}
}
