package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/agent"
	"github.com/rampart-auth/rampart/internal/testkit"
)

// TestSecretRenderWithSVID: render with --svid-dir presents the SVID the
// agent keeps, over mTLS to ca.listen, and the policy naming that SPIFFE
// ID lets it read; a secret outside the policy exits 1.
func TestSecretRenderWithSVID(t *testing.T) {
	id := e2eID("/svc/render")
	cfgPath, dir := e2eCAConfig(t, "secrets:\n  policies:\n    - {name: render, paths: [svc/render], capabilities: [read], spiffe_ids: ['"+id.String()+"']}\n")
	addrs := e2eServe(t, cfgPath)
	tok := registerWithToken(t, cfgPath, id)
	out := filepath.Join(dir, "svid")
	startAgent(t, "render", agent.Config{Server: "https://" + addrs["ca"], JoinTokenFile: tok, OutDir: out})
	waitDirSource(t, out)
	if code, _, errs := cli(t, "svid-value", "secret", "put", "svc/render/db", "--value-stdin", "--config", cfgPath); code != 0 {
		t.Fatal(errs)
	}
	file := filepath.Join(t.TempDir(), "db.secret")
	base := []string{"secret", "render", "--issuer", "https://" + addrs["ca"], "--svid-dir", out, "--once"}
	var code int
	var errs string
	// The agent writes svid.pem before bundle.pem may settle: retry briefly.
	testkit.WaitFor(t, "render over mTLS", 20*time.Second, func() bool {
		code, _, errs = cli(t, "", append(base, "--secret", "svc/render/db="+file)...)
		return code == 0
	})
	if b, err := os.ReadFile(file); err != nil || string(b) != "svid-value" {
		t.Fatalf("rendered %q %v (%s)", b, err, errs)
	}
	if code, _, errs := cli(t, "", append(base, "--secret", "svc/other/db="+file+".other")...); code != 1 {
		t.Fatalf("outside the policy: exit %d %s", code, errs)
	}
}
