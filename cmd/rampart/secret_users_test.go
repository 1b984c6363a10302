package main

import (
	"strings"
	"testing"
)

// TestSecretsWithUserTokens: real user tokens from `rampart login` (the
// device flow): a user without a role matches `roles: [user]`, outside
// its policy is forbidden, an administrator with MFA holds every
// capability, and a user disabled after sign-in is refused with the
// token they still hold.
func TestSecretsWithUserTokens(t *testing.T) {
	base, cfgPath := authServer(t, adminClients+`secrets:
  policies:
    - {name: ops-users, paths: [ops], capabilities: [read, write, list], roles: [user]}
`)
	for _, u := range []struct{ name, role string }{{"root", "admin"}, {"alice", ""}} {
		args := []string{"user", "create", "--config", cfgPath, "--username", u.name, "--password-stdin"}
		if u.role != "" {
			args = append(args, "--role", u.role)
		}
		if code, out, errOut := cli(t, loginPass+"\n", args...); code != 0 {
			t.Fatalf("user create %s: %d %s %s", u.name, code, out, errOut)
		}
	}
	aliceFile, _ := loginToFile(t, base, "alice", loginPass)
	rootFile, _ := loginToFile(t, base, "root", loginPass)
	as := func(file, stdin string, want int, args ...string) string {
		t.Helper()
		code, out, errs := cli(t, stdin, append(append([]string{"secret"}, args...), "--issuer", base, "--token-file", file)...)
		if code != want {
			t.Fatalf("%v: exit %d, want %d: %s %s", args, code, want, out, errs)
		}
		return out + errs
	}
	as(aliceFile, "alice-value", 0, "put", "ops/db", "--value-stdin")
	if out := as(aliceFile, "", 0, "get", "ops/db"); out != "alice-value" {
		t.Fatalf("alice get: %q", out)
	}
	if out := as(aliceFile, "x", 1, "put", "team/a/db", "--value-stdin"); !strings.Contains(out, "403") {
		t.Fatalf("alice outside her policy: %s", out)
	}
	if out := as(aliceFile, "", 1, "destroy", "ops/db", "--all"); !strings.Contains(out, "403") {
		t.Fatalf("alice destroy without the capability: %s", out)
	}
	// The administrator (signed in with TOTP) holds every capability.
	as(rootFile, "root-value", 0, "put", "team/a/db", "--value-stdin")
	if out := as(rootFile, "", 0, "versions", "ops/db", "--json"); !strings.Contains(out, `"created_by": "user:`) {
		t.Fatalf("root versions: %s", out)
	}
	// Disabled after sign-in: the token she still holds is refused.
	if code, _, errs := cli(t, "", "user", "disable", "--username", "alice", "--config", cfgPath); code != 0 {
		t.Fatal(errs)
	}
	if out := as(aliceFile, "", 1, "get", "ops/db"); !strings.Contains(out, "401") {
		t.Fatalf("disabled alice: %s", out)
	}
}
