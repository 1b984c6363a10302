package secretsapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/secretsapi"
)

// TestTokenPrincipals: who a token makes the caller (client, user with
// their current role, administrator with MFA) and the refusals (wrong
// audience, disabled user, admin without MFA is a plain user).
func TestTokenPrincipals(t *testing.T) {
	f := newFixture(t, false)
	f.user("ops-token", "u1", identity.RoleUser, "openid", "", false)
	f.user("gone-token", "u2", identity.RoleUser, "openid", "", true)
	f.user("admin-token", "root", identity.RoleAdmin, "openid "+secretsapi.AdminScope, "urn:rampart:acr:mfa", false)
	f.user("weak-admin-token", "root2", identity.RoleAdmin, "openid "+secretsapi.AdminScope, "urn:rampart:acr:pwd", false)
	f.client("other-aud", "app", "secrets")
	f.ver.tokens["other-aud"].Audience = []string{"https://api.example.test"}
	put := `{"value":"v"}`
	cases := []struct {
		name, method, path, tok, body string
		want                          int
	}{
		{"accept/client-policy", "PUT", "/secrets/v1/data/team/a/x", "app-token", put, 200},
		{"accept/user-role-policy", "PUT", "/secrets/v1/data/ops/x", "ops-token", put, 200},
		{"reject/user-outside-policy", "GET", "/secrets/v1/data/team/a/x", "ops-token", "", 403},
		{"reject/disabled-user", "GET", "/secrets/v1/data/ops/x", "gone-token", "", 401},
		{"accept/admin-mfa-everything", "GET", "/secrets/v1/data/team/a/x", "admin-token", "", 200},
		{"reject/admin-without-mfa-is-a-user", "GET", "/secrets/v1/data/team/a/x", "weak-admin-token", "", 403},
		{"reject/other-audience", "GET", "/secrets/v1/data/team/a/x", "other-aud", "", 401},
		{"reject/unknown-token", "GET", "/secrets/v1/data/team/a/x", "nope", "", 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ct := ""
			if tc.body != "" {
				ct = "application/json"
			}
			code, hdr, b := f.call(tc.method, tc.path, tc.tok, ct, tc.body)
			if code != tc.want {
				t.Fatalf("%d, want %d: %s", code, tc.want, b)
			}
			if code == 401 && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer ") {
				t.Fatalf("challenge %q", hdr.Get("WWW-Authenticate"))
			}
		})
	}
	// A demoted user loses their role's policy at once (the role comes
	// from the store, not the token).
	f.users["u1"].Role = "viewer"
	if code, _, _ := f.call("GET", "/secrets/v1/data/ops/x", "ops-token", "", ""); code != 403 {
		t.Fatalf("demoted user: %d", code)
	}
	var denied int
	for _, e := range f.rec.All() {
		if e.Outcome == audit.OutcomeDenied {
			denied++
		}
	}
	if denied < 3 {
		t.Fatalf("%d authentication refusals audited, want 3", denied)
	}
}

// TestTokenCacheHonoursRevocation: a cached Bearer token is not verified
// again, but the deny list is consulted on every hit: a revoked token is
// refused at once, and a deny list that fails refuses (fail closed).
func TestTokenCacheHonoursRevocation(t *testing.T) {
	f := newFixture(t, false)
	for range 5 {
		if code, _, b := f.call("GET", "/secrets/v1/list/", "app-token", "", ""); code != 200 {
			t.Fatalf("%d %s", code, b)
		}
	}
	if n := f.ver.count(); n != 1 {
		t.Fatalf("%d verifications for 5 requests with one token, want 1", n)
	}
	f.deny.deny("jti-app-token")
	if code, _, _ := f.call("GET", "/secrets/v1/list/", "app-token", "", ""); code != 401 {
		t.Fatalf("revoked cached token: %d", code)
	}
	// A DPoP request is verified every time (its proof is per request).
	f.client("dpop-token", "app", "secrets")
	before := f.ver.count()
	for range 3 {
		req, _ := http.NewRequest("GET", f.srv.URL+"/secrets/v1/list/", nil)
		req.Header.Set("Authorization", "Bearer dpop-token")
		req.Header.Set("DPoP", "proof")
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if n := f.ver.count() - before; n != 3 {
		t.Fatalf("%d verifications of 3 DPoP requests, want 3 (never cached)", n)
	}
	f.client("t2", "app", "secrets")
	f.call("GET", "/secrets/v1/list/", "t2", "", "")
	f.deny.fail = true
	if code, _, _ := f.call("GET", "/secrets/v1/list/", "t2", "", ""); code != 401 {
		t.Fatalf("deny list down: %d", code)
	}
}

// TestEngines: the lease and rotation routes with in-test engines: the
// password only in a creation's answer, snake_case status, bad ids and
// TTLs refused before the engine, engine errors mapped.
func TestEngines(t *testing.T) {
	f := newFixture(t, true)
	code, hdr, b := f.call("POST", "/secrets/v1/leases/team/a/db", "app-token", "application/json", `{"ttl":"30m"}`)
	var l map[string]any
	if code != 201 || json.Unmarshal(b, &l) != nil || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("create: %d %s", code, b)
	}
	id, _ := l["lease_id"].(string)
	if !strings.HasPrefix(l["password"].(string), "lease-password-") || l["username"] == "" || l["expires_at"] != "2026-12-04T12:30:00Z" || l["max_expires_at"] == nil {
		t.Fatalf("lease: %v", l)
	}
	code, _, b = f.call("GET", "/secrets/v1/leases/team/a/db", "app-token", "", "")
	if code != 200 || strings.Contains(string(b), "password") || !strings.Contains(string(b), id) {
		t.Fatalf("list: %d %s", code, b)
	}
	code, _, b = f.call("PUT", "/secrets/v1/lease/"+id, "app-token", "application/json", `{"ttl":"1h"}`)
	if code != 200 || strings.Contains(string(b), "password") || !strings.Contains(string(b), "2026-12-04T13:30:00Z") {
		t.Fatalf("renew: %d %s", code, b)
	}
	if code, _, _ := f.call("DELETE", "/secrets/v1/lease/"+id, "app-token", "", ""); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	if code, _, _ := f.call("DELETE", "/secrets/v1/lease/"+id, "app-token", "", ""); code != 404 {
		t.Fatalf("revoke twice: %d", code)
	}
	for _, tc := range []struct{ method, path, body string }{
		{"DELETE", "/secrets/v1/lease/NOT-HEX", ""},
		{"PUT", "/secrets/v1/lease/" + strings.Repeat("a", 33), `{}`},
		{"POST", "/secrets/v1/leases/team/a/db", `{"ttl":"-1h"}`},
		{"POST", "/secrets/v1/leases/team/a/db", `{"ttl":"forever"}`},
		{"POST", "/secrets/v1/rotate/team/a/db", `{"now":true,"reason":"` + strings.Repeat("x", 201) + `"}`},
	} {
		ct := ""
		if tc.body != "" {
			ct = "application/json"
		}
		if code, _, b := f.call(tc.method, tc.path, "app-token", ct, tc.body); code != 400 {
			t.Fatalf("%s %s: %d %s", tc.method, tc.path, code, b)
		}
	}
	code, _, b = f.call("POST", "/secrets/v1/rotate/team/a/db", "app-token", "application/json", `{"now":true,"reason":"suspicion"}`)
	var st map[string]any
	if code != 200 || json.Unmarshal(b, &st) != nil || st["step"] != "done" || st["run_id"] != "run-1" || st["reason"] != "suspicion" || !f.rots.last.Now {
		t.Fatalf("rotate: %d %s", code, b)
	}
	code, _, b = f.call("GET", "/secrets/v1/rotation/team/a/db", "app-token", "", "")
	if code != 200 || !strings.Contains(string(b), `"every":"2160h0m0s"`) || !strings.Contains(string(b), `"window":"Sat 02:00-04:00"`) {
		t.Fatalf("status: %d %s", code, b)
	}
	if code, _, _ := f.call("GET", "/secrets/v1/rotation/team/a/nothing", "app-token", "", ""); code != 404 {
		t.Fatalf("status of an unconfigured path: %d", code)
	}
	if code, _, _ := f.call("POST", "/secrets/v1/rotate/team/a/db", "", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("rotate without token: %d", code)
	}
}

// TestTamperedIs500WithoutDetail: a ciphertext altered in the database
// answers 500 "integrity check failed" and nothing more.
func TestTamperedIs500WithoutDetail(t *testing.T) {
	f := newFixture(t, false)
	f.call("PUT", "/secrets/v1/data/team/a/x", "app-token", "application/json", `{"value":"tamper-me-value"}`)
	if _, err := f.st.SQL().ExecContext(context.Background(), "UPDATE secret_versions SET ciphertext = ?", []byte("garbage-garbage-garbage-garbage-garbage")); err != nil {
		t.Fatal(err)
	}
	code, _, b := f.call("GET", "/secrets/v1/data/team/a/x", "app-token", "", "")
	var p map[string]any
	if code != 500 || json.Unmarshal(b, &p) != nil || p["detail"] != "integrity check failed" || len(p) != 4 {
		t.Fatalf("%d %s", code, b)
	}
}
