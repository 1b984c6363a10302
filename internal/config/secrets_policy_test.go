package config

import (
	"strings"
	"testing"
)

// TestSecretPolicyPathsUseTheManagersParser: a policy path the manager
// would refuse (traversal, upper case, trailing slash, glob) fails config
// check, so serve never starts with a policy it cannot compile.
func TestSecretPolicyPathsUseTheManagersParser(t *testing.T) {
	base := "secrets:\n  policies:\n    - {name: p, capabilities: [read], clients: [app], paths: [%s]}\n"
	for _, bad := range []string{"'team/../x'", "'Team/a'", "'team/'", "'team/*'", "'/team'", "'a//b'", "'%2e%2e'"} {
		_, err := Parse([]byte(strings.Replace(base, "%s", bad, 1)))
		if err == nil || !strings.Contains(err.Error(), "secrets.policies[0].paths[0]") {
			t.Errorf("path %s: %v, want a refusal naming secrets.policies[0].paths[0]", bad, err)
		}
	}
	for _, good := range []string{"'*'", "team/a", "team/a.b/c_d"} {
		if _, err := Parse([]byte(strings.Replace(base, "%s", good, 1))); err != nil {
			t.Errorf("path %s refused: %v", good, err)
		}
	}
	_, err := Parse([]byte("secrets:\n  policies:\n    - {name: p, capabilities: [read], spiffe_ids: ['spiffe://Example.org/x'], paths: [a]}\n"))
	if err == nil || !strings.Contains(err.Error(), "secrets.policies[0].spiffe_ids[0]") {
		t.Errorf("bad SPIFFE ID: %v", err)
	}
}
