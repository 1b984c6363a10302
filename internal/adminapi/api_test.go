package adminapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/adminapi"
	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// TestCallerRefused performs each way of calling the API without being an
// administrator with MFA, and checks that each is refused, challenged,
// changes nothing and is audited as denied.
func TestCallerRefused(t *testing.T) {
	f := newFixture(t, "sqlite")
	plain := f.user("plain", identity.RoleUser)
	gone := f.user("gone", identity.RoleAdmin)
	if err := f.db.SetUserDisabled(context.Background(), gone.ID, true, time.Now()); err != nil {
		t.Fatal(err)
	}
	aud := issuer + adminapi.Prefix
	f.token("pwd-only", f.admin.ID, adminapi.Scope, "urn:rampart:acr:pwd", aud) // the stolen-password case
	f.token("no-acr", f.admin.ID, adminapi.Scope, "", aud)
	f.token("no-scope", f.admin.ID, "openid profile", adminapi.ACRMFA, aud)
	f.token("other-aud", f.admin.ID, adminapi.Scope, adminapi.ACRMFA, "https://api.example.test")
	f.token("not-admin", plain.ID, adminapi.Scope, adminapi.ACRMFA, aud)
	f.token("disabled", gone.ID, adminapi.Scope, adminapi.ACRMFA, aud)
	f.token("client-cc", "reporting", adminapi.Scope, adminapi.ACRMFA, aud) // a client-credentials token: sub is a client
	f.token("scope-prefix", f.admin.ID, "rampart:administrator", adminapi.ACRMFA, aud)
	cases := []struct {
		tok    string
		status int
		code   string
	}{
		{"", http.StatusUnauthorized, ""},
		{"forged", http.StatusUnauthorized, "invalid_token"},
		{"other-aud", http.StatusUnauthorized, "invalid_token"},
		{"no-scope", http.StatusForbidden, "insufficient_scope"},
		{"scope-prefix", http.StatusForbidden, "insufficient_scope"},
		{"pwd-only", http.StatusForbidden, "insufficient_user_authentication"},
		{"no-acr", http.StatusForbidden, "insufficient_user_authentication"},
		{"not-admin", http.StatusForbidden, "insufficient_scope"},
		{"disabled", http.StatusForbidden, "insufficient_scope"},
		{"client-cc", http.StatusForbidden, "insufficient_scope"},
	}
	before := len(f.records(audit.ActionAdminRequest))
	for _, c := range cases {
		t.Run("token="+c.tok, func(t *testing.T) {
			body, _ := json.Marshal(map[string]any{"username": "intruder", "password": "correct horse battery staple 9", "role": "admin"})
			code, h, b := f.call(http.MethodPost, adminapi.Prefix+"/users", c.tok, "application/json", body)
			if code != c.status {
				t.Fatalf("status %d, want %d: %s", code, c.status, b)
			}
			if ct := h.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("content type %q", ct)
			}
			ch := strings.Join(h.Values("WWW-Authenticate"), "; ")
			if !strings.Contains(ch, `Bearer realm="rampart-admin"`) || !strings.Contains(ch, "DPoP ") {
				t.Fatalf("challenge %q", ch)
			}
			if c.code != "" && !strings.Contains(ch, `error="`+c.code+`"`) {
				t.Fatalf("challenge %q, want error %s", ch, c.code)
			}
		})
	}
	if _, err := f.db.UserByUsername(context.Background(), "intruder"); err == nil {
		t.Fatal("a refused caller created a user")
	}
	recs := f.records(audit.ActionAdminRequest)[before:]
	if len(recs) != len(cases) {
		t.Fatalf("%d admin.request events for %d calls", len(recs), len(cases))
	}
	for i, r := range recs {
		// A missing or forged token is anonymous; a genuine token that is
		// not enough names its subject.
		wantAnon := cases[i].tok == "" || cases[i].tok == "forged"
		if r.Outcome != audit.OutcomeDenied || r.Reason == "" || r.Target != "api:POST /admin/api/v1/users" || (r.Actor == "anonymous") != wantAnon {
			t.Fatalf("event %d %+v", i, r.Event)
		}
	}
	if n := len(f.records(audit.ActionUserCreate)); n != 3 { // root, plain and gone, by the fixture
		t.Fatalf("%d user.create events", n)
	}
}

// TestDefaultAudienceAccepted: a token of a client registered without an
// audience (the issuer's own endpoints) works.
func TestDefaultAudienceAccepted(t *testing.T) {
	f := newFixture(t, "sqlite")
	f.token("default-aud", f.admin.ID, "openid "+adminapi.Scope, adminapi.ACRMFA, oauth.DefaultAudience(issuer))
	code, _, b := f.call(http.MethodGet, adminapi.Prefix+"/clients", "default-aud", "", nil)
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, b)
	}
}

func TestClientLifecycle(t *testing.T) {
	for _, d := range storetest.Drivers(t) {
		t.Run(d, func(t *testing.T) {
			f := newFixture(t, d)
			var created admin.ClientView
			f.json(http.MethodPost, adminapi.Prefix+"/clients", map[string]any{
				"client_id": "reports", "grant_types": []string{"client_credentials"}, "scopes": []string{"reports:read"},
				"access_token_ttl": "5m"}, http.StatusCreated, &created)
			if created.ID != "reports" || len(created.Secret) < 32 || created.AccessTTL != "5m0s" || created.Source != oauth.SourceCLI {
				t.Fatalf("created %+v", created)
			}
			var got admin.ClientView
			f.json(http.MethodGet, adminapi.Prefix+"/clients/reports", nil, http.StatusOK, &got)
			if got.Secret != "" || got.ID != "reports" {
				t.Fatalf("show %+v", got)
			}
			var list struct{ Clients []admin.ClientView }
			f.json(http.MethodGet, adminapi.Prefix+"/clients", nil, http.StatusOK, &list)
			if len(list.Clients) != 2 || list.Clients[0].ID != "from-file" || list.Clients[1].ID != "reports" {
				t.Fatalf("list %+v", list)
			}
			var rot struct {
				Secret string `json:"client_secret"`
			}
			f.json(http.MethodPost, adminapi.Prefix+"/clients/reports/rotate-secret", nil, http.StatusOK, &rot)
			if len(rot.Secret) < 32 || rot.Secret == created.Secret {
				t.Fatalf("rotated %+v", rot)
			}
			// The file's clients are changed in the file: 409, not 500.
			f.json(http.MethodDelete, adminapi.Prefix+"/clients/from-file", nil, http.StatusConflict, nil)
			f.json(http.MethodPost, adminapi.Prefix+"/clients", map[string]any{"client_id": "reports", "grant_types": []string{"client_credentials"}}, http.StatusConflict, nil)
			f.json(http.MethodDelete, adminapi.Prefix+"/clients/reports", nil, http.StatusOK, nil)
			f.json(http.MethodGet, adminapi.Prefix+"/clients/reports", nil, http.StatusNotFound, nil)
			f.json(http.MethodDelete, adminapi.Prefix+"/clients/reports", nil, http.StatusNotFound, nil)
			for _, action := range []string{audit.ActionClientCreate, audit.ActionClientRotateSecret, audit.ActionClientDelete} {
				recs := f.records(action)
				if len(recs) != 1 || recs[0].Actor != "user:"+f.admin.ID || recs[0].Target != "client:reports" {
					t.Fatalf("%s: %+v", action, recs)
				}
			}
			// Every call is recorded, with the client it acted on.
			var objects []string
			for _, r := range f.records(audit.ActionAdminRequest) {
				objects = append(objects, r.Details["object"])
			}
			if len(objects) != 9 || objects[1] != "reports" {
				t.Fatalf("admin.request objects %q", objects)
			}
		})
	}
}

// TestDisableUserEndsEverything: disabling a user ends their sessions,
// revokes their refresh-token families and denies their live access
// tokens; enabling does not bring any of it back.
func TestDisableUserEndsEverything(t *testing.T) {
	for _, d := range storetest.Drivers(t) {
		t.Run(d, func(t *testing.T) {
			f := newFixture(t, d)
			ctx := context.Background()
			victim := f.user("victim", identity.RoleUser)
			now := time.Now()
			for i := range 2 {
				if err := f.db.CreateSession(ctx, &identity.Session{IDHash: []byte(strings.Repeat(string(rune('a'+i)), 32)), UserID: victim.ID,
					AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
					t.Fatal(err)
				}
			}
			fam := &oauth.Family{ID: "fam-1", ClientID: "web", UserID: victim.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			if err := f.db.CreateFamily(ctx, fam); err != nil {
				t.Fatal(err)
			}
			if err := f.db.RecordAccess(ctx, fam.ID, oauth.IssuedAccess{JTI: "jti-live", ExpiresAt: now.Add(10 * time.Minute)}); err != nil {
				t.Fatal(err)
			}
			var sessions struct{ Sessions []admin.SessionView }
			f.json(http.MethodGet, adminapi.Prefix+"/users/"+victim.ID+"/sessions", nil, http.StatusOK, &sessions)
			if len(sessions.Sessions) != 2 || len(sessions.Sessions[0].ID) != 16 {
				t.Fatalf("sessions %+v", sessions)
			}
			var ended admin.Ended
			f.json(http.MethodPost, adminapi.Prefix+"/users/"+victim.ID+"/disable", nil, http.StatusOK, &ended)
			if ended.Sessions != 2 || ended.RevokedAccessTokens != 1 {
				t.Fatalf("ended %+v", ended)
			}
			if denied, err := f.db.IsDenied(ctx, "jti-live", now); err != nil || !denied {
				t.Fatalf("the live access token is not denied: %v %v", denied, err)
			}
			var u admin.UserView
			f.json(http.MethodGet, adminapi.Prefix+"/users/"+victim.ID, nil, http.StatusOK, &u)
			if !u.Disabled {
				t.Fatalf("user %+v", u)
			}
			left, err := f.db.ListUserSessions(ctx, victim.ID, now)
			if err != nil || len(left) != 0 {
				t.Fatalf("sessions left %d, %v", len(left), err)
			}
			if _, err := f.users.Authenticate(ctx, "victim", "correct horse battery staple victim"); err == nil {
				t.Fatal("a disabled user signed in")
			}
			f.json(http.MethodPost, adminapi.Prefix+"/users/"+victim.ID+"/enable", nil, http.StatusNoContent, nil)
			if _, err := f.users.Authenticate(ctx, "victim", "correct horse battery staple victim"); err != nil {
				t.Fatalf("enabled user: %v", err)
			}
			// An administrator cannot disable themself.
			f.json(http.MethodPost, adminapi.Prefix+"/users/"+f.admin.ID+"/disable", nil, http.StatusConflict, nil)
			f.json(http.MethodPost, adminapi.Prefix+"/users/nobody/disable", nil, http.StatusNotFound, nil)
			recs := f.records(audit.ActionUserDisable)
			if len(recs) != 1 || recs[0].Details["sessions_ended"] != "2" || recs[0].Details["revoked_access_tokens"] != "1" {
				t.Fatalf("user.disable %+v", recs)
			}
			if ends := f.records(audit.ActionUserAccessEnd); len(ends) != 1 || ends[0].Reason != "user_disabled" || ends[0].Actor != "user:"+f.admin.ID {
				t.Fatalf("user.access_end %+v", ends)
			}
			if len(f.records(audit.ActionUserEnable)) != 1 {
				t.Fatal("no user.enable")
			}
		})
	}
}

func TestUsersAndSessions(t *testing.T) {
	f := newFixture(t, "sqlite")
	var u admin.UserView
	f.json(http.MethodPost, adminapi.Prefix+"/users", map[string]any{"username": "Alice", "password": "correct horse battery staple a", "role": "user"}, http.StatusCreated, &u)
	if u.Username != "alice" || u.Role != "user" || u.ID == "" {
		t.Fatalf("created %+v", u)
	}
	f.json(http.MethodPost, adminapi.Prefix+"/users", map[string]any{"username": "alice", "password": "correct horse battery staple a"}, http.StatusConflict, nil)
	f.json(http.MethodPost, adminapi.Prefix+"/users", map[string]any{"username": "bob", "password": "short"}, http.StatusBadRequest, nil)
	f.json(http.MethodPost, adminapi.Prefix+"/users", map[string]any{"username": "bob", "password": "correct horse battery staple b", "role": "root"}, http.StatusBadRequest, nil)
	for _, n := range []string{"carol", "dave"} {
		f.user(n, identity.RoleUser)
	}
	var page struct {
		Users     []admin.UserView
		NextAfter string `json:"next_after"`
	}
	f.json(http.MethodGet, adminapi.Prefix+"/users?limit=2", nil, http.StatusOK, &page)
	if len(page.Users) != 2 || page.Users[0].Username != "alice" || page.NextAfter != "carol" {
		t.Fatalf("page 1 %+v", page)
	}
	page.NextAfter = ""
	f.json(http.MethodGet, adminapi.Prefix+"/users?limit=2&after=carol", nil, http.StatusOK, &page)
	if len(page.Users) != 2 || page.Users[0].Username != "dave" || page.Users[1].Username != "root" {
		t.Fatalf("page 2 %+v", page)
	}
	var n struct {
		Ended int `json:"sessions_ended"`
	}
	f.json(http.MethodDelete, adminapi.Prefix+"/users/"+u.ID+"/sessions", nil, http.StatusOK, &n)
	if len(f.records(audit.ActionUserSessionsEnd)) != 1 {
		t.Fatal("no user.sessions_end")
	}
}

func TestKeys(t *testing.T) {
	f := newFixture(t, "sqlite")
	var list struct{ Keys []admin.KeyView }
	f.json(http.MethodGet, adminapi.Prefix+"/keys", nil, http.StatusOK, &list)
	if len(list.Keys) != 1 || list.Keys[0].KID != "k1" || list.Keys[0].State != "active" {
		t.Fatalf("keys %+v", list)
	}
	f.json(http.MethodPost, adminapi.Prefix+"/keys/rotate", nil, http.StatusOK, nil)
	f.json(http.MethodPost, adminapi.Prefix+"/keys/k1/revoke", nil, http.StatusOK, nil)
	f.json(http.MethodPost, adminapi.Prefix+"/keys/nope/revoke", nil, http.StatusNotFound, nil)
	if len(f.keys.rotated) != 1 || len(f.keys.revoked) != 1 {
		t.Fatalf("rotated %v revoked %v", f.keys.rotated, f.keys.revoked)
	}
}

func TestAuditQuery(t *testing.T) {
	f := newFixture(t, "sqlite")
	for _, n := range []string{"u1", "u2", "u3"} {
		f.user(n, identity.RoleUser)
	}
	var page struct {
		Records   []admin.AuditView
		NextAfter int64 `json:"next_after"`
	}
	f.json(http.MethodGet, adminapi.Prefix+"/audit?action=user.create&limit=2", nil, http.StatusOK, &page)
	if len(page.Records) != 2 || page.NextAfter == 0 || page.Records[0].Action != audit.ActionUserCreate || len(page.Records[0].Hash) != 64 {
		t.Fatalf("page %+v", page)
	}
	next := page.NextAfter
	page.Records, page.NextAfter = nil, 0
	f.json(http.MethodGet, adminapi.Prefix+"/audit?action=user.create&limit=2&after="+jsonInt(next), nil, http.StatusOK, &page)
	if len(page.Records) != 2 || page.NextAfter != page.Records[1].Seq { // root, u1 | u2, u3
		t.Fatalf("page 2 %+v", page)
	}
	next = page.NextAfter
	page.Records, page.NextAfter = nil, 0
	f.json(http.MethodGet, adminapi.Prefix+"/audit?action=user.create&limit=2&after="+jsonInt(next), nil, http.StatusOK, &page)
	if len(page.Records) != 0 || page.NextAfter != 0 {
		t.Fatalf("page 3 %+v", page)
	}
	// Injection through a filter is a value, not SQL.
	for _, hostile := range []string{"' OR '1'='1", "user.create' --", "x'); DROP TABLE audit_log; --"} {
		var out struct{ Records []admin.AuditView }
		f.json(http.MethodGet, adminapi.Prefix+"/audit?action="+urlEscape(hostile), nil, http.StatusOK, &out)
		if len(out.Records) != 0 {
			t.Fatalf("%q matched %d records", hostile, len(out.Records))
		}
	}
	if n := len(f.records(audit.ActionUserCreate)); n != 4 {
		t.Fatalf("%d user.create records after the injections", n)
	}
	for _, bad := range []string{"limit=0", "limit=1001", "limit=x", "after=-1", "since=yesterday", "outcome=maybe",
		"since=2026-12-03T10:00:00Z&until=2026-12-03T09:00:00Z", "action=" + strings.Repeat("a", 600)} {
		f.json(http.MethodGet, adminapi.Prefix+"/audit?"+bad, nil, http.StatusBadRequest, nil)
	}
}

func TestRotateWithOverlap(t *testing.T) {
	f := newFixture(t, "sqlite")
	f.json(http.MethodPost, adminapi.Prefix+"/clients", map[string]any{"client_id": "svc", "grant_types": []string{"client_credentials"}}, http.StatusCreated, nil)
	f.json(http.MethodPost, adminapi.Prefix+"/clients/svc/rotate-secret", map[string]string{"overlap": "24h"}, http.StatusOK, nil)
	f.json(http.MethodPost, adminapi.Prefix+"/clients/svc/rotate-secret", map[string]string{"overlap": "1000h"}, http.StatusBadRequest, nil)
	f.json(http.MethodPost, adminapi.Prefix+"/clients/svc/rotate-secret", map[string]string{"overlap": "soon"}, http.StatusBadRequest, nil)
	f.json(http.MethodPost, adminapi.Prefix+"/clients/svc/rotate-secret", map[string]string{"overlaps": "1h"}, http.StatusBadRequest, nil)
	var out struct{ Retired bool }
	f.json(http.MethodPost, adminapi.Prefix+"/clients/svc/retire-secret", nil, http.StatusOK, &out)
	if !out.Retired {
		t.Fatal("the overlapping secret was not retired")
	}
	recs := f.records(audit.ActionClientRotateSecret)
	if len(recs) != 1 || recs[0].Details["overlap"] != "24h0m0s" {
		t.Fatalf("rotate events %+v", recs)
	}
	if len(f.records(audit.ActionClientRetireSecret)) != 1 {
		t.Fatal("no client.retire_secret")
	}
}

// TestRoleChangeEndsSessions: a promotion or demotion ends the user's
// sessions; a demoted administrator's token stops working at once.
func TestRoleChangeEndsSessions(t *testing.T) {
	f := newFixture(t, "sqlite")
	ctx := context.Background()
	other := f.user("other", identity.RoleAdmin)
	now := time.Now()
	if err := f.db.CreateSession(ctx, &identity.Session{IDHash: []byte(strings.Repeat("s", 32)), UserID: other.ID, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	f.token("other", other.ID, adminapi.Scope, adminapi.ACRMFA, issuer+adminapi.Prefix)
	if code, _, b := f.call(http.MethodGet, adminapi.Prefix+"/keys", "other", "", nil); code != http.StatusOK {
		t.Fatalf("before: %d %s", code, b)
	}
	var out struct {
		Ended int64 `json:"sessions_ended"`
	}
	f.json(http.MethodPut, adminapi.Prefix+"/users/"+other.ID+"/role", map[string]string{"role": "user"}, http.StatusOK, &out)
	if out.Ended != 1 {
		t.Fatalf("ended %d", out.Ended)
	}
	if code, _, _ := f.call(http.MethodGet, adminapi.Prefix+"/keys", "other", "", nil); code != http.StatusForbidden {
		t.Fatalf("a demoted administrator's token still works: %d", code)
	}
	f.json(http.MethodPut, adminapi.Prefix+"/users/"+f.admin.ID+"/role", map[string]string{"role": "user"}, http.StatusConflict, nil)
	f.json(http.MethodPut, adminapi.Prefix+"/users/"+other.ID+"/role", map[string]string{"role": "root"}, http.StatusBadRequest, nil)
	f.json(http.MethodPut, adminapi.Prefix+"/users/"+other.ID+"/role", map[string]string{}, http.StatusBadRequest, nil)
	recs := f.records(audit.ActionUserRoleChange)
	if len(recs) != 1 || recs[0].Details["from"] != "admin" || recs[0].Details["to"] != "user" {
		t.Fatalf("user.role_change %+v", recs)
	}
}
