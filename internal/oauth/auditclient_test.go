package oauth_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/oauth"
)

// TestAttackFailedClientAuthKeptOutOfAudit: a client_id carrying control
// or format characters (a NUL, a right-to-left override) once made the
// invalid_client event invalid, so it was dropped and the attempt left no
// trace. Every such failure, at the token, revocation and introspection
// endpoints, must be in the trail, its target a pseudonym.
func TestAttackFailedClientAuthKeptOutOfAudit(t *testing.T) {
	e := newEnv(t, "sqlite")
	evil := "evil\u202e\x00\x1b[31m" + strings.Repeat("é", 30)
	secret := "s-0123456789abcdefghijklmnopqrstuvwxyz"
	cases := []struct {
		name, path, action string
		basic              bool
	}{
		{"reject/post-token", oauth.PathToken, "oauth.token", false},
		{"reject/basic-token", oauth.PathToken, "oauth.token", true},
		{"reject/post-revoke", oauth.PathRevoke, "oauth.revoke", false},
		{"reject/basic-introspect", oauth.PathIntrospect, "oauth.introspect", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"grant_type": {"client_credentials"}, "token": {"x"}}
			id, sec := "", ""
			if tc.basic {
				id, sec = evil, secret
			} else {
				form.Set("client_id", evil)
				form.Set("client_secret", secret)
			}
			st, body, _ := e.postJSON(tc.path, form, id, sec)
			wantOAuthError(t, st, body, http.StatusUnauthorized, "invalid_client")
		})
	}
	got := map[string]int{}
	for _, tc := range cases {
		if tc.basic && tc.action == "oauth.token" {
			continue // counted with the post case of the same action
		}
		for _, ev := range e.events(tc.action) {
			if ev.Outcome != "failure" || ev.Reason != "invalid_client" {
				continue
			}
			if !strings.HasPrefix(ev.Target, "client-pseudonym:hmac:") || strings.Contains(ev.Target, "evil") {
				t.Fatalf("untrusted client id recorded as %q", ev.Target)
			}
			got[tc.action]++
		}
	}
	if got["oauth.token"] != 2 || got["oauth.revoke"] != 1 || got["oauth.introspect"] != 1 {
		t.Fatalf("failed client authentications in the audit trail: %v, want token 2, revoke 1, introspect 1", got)
	}
	// A well-formed id is public and recorded as it is.
	e2 := newEnv(t, "sqlite")
	e2.postJSON(oauth.PathToken, url.Values{"grant_type": {"client_credentials"}}, "no-such-client", secret)
	if ev := e2.events("oauth.token"); len(ev) != 1 || ev[0].Target != "client:no-such-client" {
		t.Fatalf("a valid unknown client id: %+v", ev)
	}
}
