package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// createClient runs `client create` and returns the secret.
func createClient(t *testing.T, cfgPath string, args ...string) string {
	t.Helper()
	code, out, errs := cli(t, "", append([]string{"client", "create", "--config", cfgPath, "--json"}, args...)...)
	var c struct {
		Secret string `json:"client_secret"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &c) != nil || c.Secret == "" {
		t.Fatalf("client create %v: %d %s %s", args, code, out, errs)
	}
	return c.Secret
}

// postForm posts form with Basic credentials and decodes the JSON answer.
func (ts *testServer) postForm(t *testing.T, path, id, secret string, form url.Values) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ts.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %v", path, resp.StatusCode, err)
	}
	return out
}

// tokenKID returns the kid in a JWS header.
func tokenKID(t *testing.T, tok string) string {
	t.Helper()
	h, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	var hdr struct {
		KID string `json:"kid"`
	}
	if err != nil || json.Unmarshal(b, &hdr) != nil {
		t.Fatalf("bad token header %q", h)
	}
	return hdr.KID
}

// TestKeyRevokeCommand: `rampart key revoke` of the key a running serve
// signs with: the server stops accepting the key's tokens (introspection
// answers inactive), drops it from the JWKS and signs new tokens with the
// replacement, which verify; `key list` shows it revoked and the audit
// trail has key.revoke. An unknown kid is refused with exit 1, a wrong
// command line with exit 2.
func TestKeyRevokeCommand(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ts := startServer(t, driver, config.TLSOff)
			svcSecret := createClient(t, ts.cfgPath, "--id", "svc", "--grant-type", "client_credentials", "--scope", "a")
			rsSecret := createClient(t, ts.cfgPath, "--id", "rs", "--grant-type", "client_credentials", "--resource-server")
			token := func() string {
				out := ts.postForm(t, "/oauth2/token", "svc", svcSecret, url.Values{"grant_type": {"client_credentials"}, "scope": {"a"}})
				tok, _ := out["access_token"].(string)
				return tok
			}
			active := func(tok string) bool {
				return ts.postForm(t, "/oauth2/introspect", "rs", rsSecret, url.Values{"token": {tok}})["active"] == true
			}
			old := token()
			oldKID := tokenKID(t, old)
			if !active(old) {
				t.Fatal("a fresh token is inactive")
			}

			for _, tc := range []struct {
				name string
				args []string
				code int
				err  string
			}{
				{"reject/unknown-kid", []string{"no-such-kid"}, 1, "no signing key has this kid"},
				{"reject/no-kid", nil, 2, "accepts 1 arg"},
				{"reject/two-kids", []string{oldKID, "other"}, 2, "accepts 1 arg"},
				{"reject/empty-kid", []string{""}, 2, "needs the KID"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					code, _, errs := cli(t, "", append([]string{"key", "revoke", "--config", ts.cfgPath, "--"}, tc.args...)...)
					if code != tc.code || !strings.Contains(errs, tc.err) {
						t.Fatalf("exit %d %q, want %d %q", code, errs, tc.code, tc.err)
					}
				})
			}
			if !active(old) || !slices.Contains(ts.kids(t), oldKID) {
				t.Fatal("a refused revocation changed the keys")
			}

			code, out, errs := cli(t, "", "key", "revoke", "--config", ts.cfgPath, "--", oldKID)
			if code != 0 || !strings.Contains(out, "revoked key "+oldKID) || !strings.Contains(out, "new signing key ") {
				t.Fatalf("key revoke: %d %s %s", code, out, errs)
			}
			deadline := time.Now().Add(15 * time.Second)
			var kids []string
			for kids = ts.kids(t); slices.Contains(kids, oldKID) || len(kids) != 1; kids = ts.kids(t) {
				if time.Now().After(deadline) {
					t.Fatalf("the JWKS still has %v", kids)
				}
				time.Sleep(100 * time.Millisecond)
			}
			newKID := kids[0]
			if !strings.Contains(out, newKID) {
				t.Fatalf("revoke named another replacement than the JWKS has (%s): %s", newKID, out)
			}
			// Serve's own verifier follows within its poll interval.
			for active(old) {
				if time.Now().After(deadline) {
					t.Fatal("introspection still says a token of the revoked key is active")
				}
				time.Sleep(100 * time.Millisecond)
			}
			fresh := token()
			if tokenKID(t, fresh) != newKID || !active(fresh) {
				t.Fatalf("new token signed by %s, active %v; want the replacement %s", tokenKID(t, fresh), active(fresh), newKID)
			}

			code, out, _ = cli(t, "", "key", "list", "--config", ts.cfgPath)
			if code != 0 || !lineHas(out, oldKID, "revoked") || !lineHas(out, newKID, "active") {
				t.Fatalf("key list:\n%s", out)
			}
			// Again: nothing to do, said so, exit 0.
			if code, out, _ = cli(t, "", "key", "revoke", "--config", ts.cfgPath, "--", oldKID); code != 0 || !strings.Contains(out, "already revoked") {
				t.Fatalf("second revoke: %d %s", code, out)
			}
			code, out, _ = cli(t, "", "audit", "tail", "--config", ts.cfgPath, "-n", "50")
			if code != 0 || !strings.Contains(out, "key.revoke") || !strings.Contains(out, "key:"+oldKID) {
				t.Fatalf("audit tail lacks key.revoke:\n%s", out)
			}
		})
	}
}

// lineHas reports whether a line of out has both words.
func lineHas(out, a, b string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, a) && strings.Contains(l, b) {
			return true
		}
	}
	return false
}
