package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestClientCreateCertBound: `rampart client create
// --certificate-bound-access-tokens` stores the flag (RFC 8705 §3.4), shown
// by `client show` in text and JSON.
func TestClientCreateCertBound(t *testing.T) {
	cfg, _ := freshConfig(t, "")
	if code, out, errOut := cli(t, "", "migrate", "--config", cfg); code != 0 {
		t.Fatalf("migrate: %d %s %s", code, out, errOut)
	}
	code, out, errOut := cli(t, "", "client", "create", "--config", cfg, "--id", "svc", "--grant-type", "client_credentials", "--certificate-bound-access-tokens", "--json")
	var v struct {
		CertBound bool `json:"certificate_bound_access_tokens"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || !v.CertBound {
		t.Fatalf("client create: %d %s %s", code, out, errOut)
	}
	if code, out, _ := cli(t, "", "client", "show", "svc", "--config", cfg); code != 0 || !strings.Contains(out, "certificate_bound_access_tokens:") {
		t.Fatalf("client show: %d %s", code, out)
	}
}
