package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestClientCreatePageAndLogoutFields: `rampart client create` stores the
// display and post-logout fields (shown by `client show`), and refuses a
// non-https logo and a javascript: logout URI as usage errors.
func TestClientCreatePageAndLogoutFields(t *testing.T) {
	cfg, _ := freshConfig(t, "")
	if code, out, errOut := cli(t, "", "migrate", "--config", cfg); code != 0 {
		t.Fatalf("migrate: %d %s %s", code, out, errOut)
	}
	code, out, errOut := cli(t, "", "client", "create", "--config", cfg, "--id", "spa", "--public", "--grant-type", "authorization_code",
		"--redirect-uri", "https://app.example/cb", "--post-logout-redirect-uri", "https://app.example/bye",
		"--display-name", "Notes", "--logo-uri", "https://app.example/logo.png", "--policy-uri", "https://app.example/privacy", "--tos-uri", "https://app.example/terms")
	if code != 0 {
		t.Fatalf("client create: %d %s %s", code, out, errOut)
	}
	code, out, _ = cli(t, "", "client", "show", "spa", "--config", cfg, "--json")
	var v struct {
		DisplayName string   `json:"display_name"`
		LogoURI     string   `json:"logo_uri"`
		PostLogout  []string `json:"post_logout_redirect_uris"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.DisplayName != "Notes" || v.LogoURI != "https://app.example/logo.png" ||
		len(v.PostLogout) != 1 || v.PostLogout[0] != "https://app.example/bye" {
		t.Fatalf("client show: %d %s", code, out)
	}
	for name, args := range map[string][]string{
		"usage/http-logo":      {"--logo-uri", "http://app.example/logo.png"},
		"usage/js-logout-uri":  {"--post-logout-redirect-uri", "javascript:alert(1)"},
		"usage/data-tos":       {"--tos-uri", "data:text/html,x"},
		"usage/logout-no-code": {"--post-logout-redirect-uri", "https://app.example/bye", "--grant-type", "client_credentials"},
	} {
		t.Run(name, func(t *testing.T) {
			base := []string{"client", "create", "--config", cfg, "--id", "x"}
			if !strings.Contains(strings.Join(args, " "), "client_credentials") {
				base = append(base, "--public", "--grant-type", "authorization_code", "--redirect-uri", "https://app.example/cb")
			}
			if code, out, errOut := cli(t, "", append(base, args...)...); code != 2 {
				t.Fatalf("exit %d, want 2: %s %s", code, out, errOut)
			}
		})
	}
}
