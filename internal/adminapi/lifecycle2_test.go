package adminapi_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/adminapi"
	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// TestResetPasswordAPI: the reset sets the password, forces a change at
// the next sign-in and ends what the user held; an administrator's own
// reset, a weak password and an unknown member are refused and change
// nothing.
func TestResetPasswordAPI(t *testing.T) {
	for _, d := range storetest.Drivers(t) {
		t.Run(d, func(t *testing.T) {
			f := newFixture(t, d)
			ctx := context.Background()
			victim := f.user("victim", identity.RoleUser)
			now := time.Now()
			if err := f.db.CreateSession(ctx, &identity.Session{IDHash: []byte("0123456789abcdef0123456789abcdef"), UserID: victim.ID,
				AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			path := adminapi.Prefix + "/users/" + victim.ID + "/reset-password"
			f.json(http.MethodPost, path, map[string]any{"password": "short"}, http.StatusBadRequest, nil)
			f.json(http.MethodPost, path, map[string]any{"password": "a temporary passphrase", "role": "admin"}, http.StatusBadRequest, nil)
			f.json(http.MethodPost, adminapi.Prefix+"/users/"+f.admin.ID+"/reset-password", map[string]any{"password": "a temporary passphrase"}, http.StatusConflict, nil)
			f.json(http.MethodPost, adminapi.Prefix+"/users/nobody/reset-password", map[string]any{"password": "a temporary passphrase"}, http.StatusNotFound, nil)
			if _, err := f.users.Authenticate(ctx, "victim", "correct horse battery staple victim"); err != nil {
				t.Fatalf("a refused reset changed the password: %v", err)
			}
			var ended admin.Ended
			f.json(http.MethodPost, path, map[string]any{"password": "a temporary passphrase"}, http.StatusOK, &ended)
			if ended.Sessions != 1 {
				t.Fatalf("ended %+v", ended)
			}
			if _, err := f.users.Authenticate(ctx, "victim", "correct horse battery staple victim"); err == nil {
				t.Fatal("the old password still signs in")
			}
			u, err := f.users.Authenticate(ctx, "victim", "a temporary passphrase")
			if err != nil || !u.MustChangePassword {
				t.Fatalf("reset user: %+v %v (must change the password)", u, err)
			}
			if recs := f.records(audit.ActionPasswordReset); len(recs) != 1 || recs[0].Actor != "user:"+f.admin.ID || recs[0].Target != "user:"+victim.ID {
				t.Fatalf("user.password_reset %+v", recs)
			}
			if ends := f.records(audit.ActionUserAccessEnd); len(ends) != 1 || ends[0].Reason != "password_reset" {
				t.Fatalf("user.access_end %+v", ends)
			}
		})
	}
}

// TestUserByUsername: ?username= finds exactly that user (case folded as
// at sign-in) or answers an empty list; a prefix matches nothing, a
// wildcard is refused.
func TestUserByUsername(t *testing.T) {
	f := newFixture(t, "sqlite")
	alice := f.user("alice", identity.RoleUser)
	f.user("alicia", identity.RoleUser)
	var page struct{ Users []admin.UserView }
	f.json(http.MethodGet, adminapi.Prefix+"/users?username="+url.QueryEscape("Alice"), nil, http.StatusOK, &page)
	if len(page.Users) != 1 || page.Users[0].ID != alice.ID {
		t.Fatalf("by username: %+v", page)
	}
	// A LIKE wildcard is not a username: refused, never a pattern.
	f.json(http.MethodGet, adminapi.Prefix+"/users?username=ali%25", nil, http.StatusBadRequest, nil)
	for _, q := range []string{"ali", "nobody"} {
		page.Users = nil
		f.json(http.MethodGet, adminapi.Prefix+"/users?username="+q, nil, http.StatusOK, &page)
		if len(page.Users) != 0 {
			t.Fatalf("%s matched %+v", q, page.Users)
		}
	}
}

// TestClientDisableAPI: disabling a stored client answers what it denied,
// shows disabled, and the registry refuses the client; a configuration
// client is refused with 409; enabling clears the flag.
func TestClientDisableAPI(t *testing.T) {
	for _, d := range storetest.Drivers(t) {
		t.Run(d, func(t *testing.T) {
			f := newFixture(t, d)
			ctx := context.Background()
			var created admin.ClientView
			f.json(http.MethodPost, adminapi.Prefix+"/clients", map[string]any{"client_id": "reporting", "grant_types": []string{"client_credentials"}}, http.StatusCreated, &created)
			now := time.Now()
			fam := &oauth.Family{ID: "fam-r", ClientID: "reporting", UserID: "u1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			if err := f.db.CreateFamily(ctx, fam); err != nil {
				t.Fatal(err)
			}
			if err := f.db.RecordAccess(ctx, fam.ID, oauth.IssuedAccess{JTI: "jti-r", ExpiresAt: now.Add(10 * time.Minute)}); err != nil {
				t.Fatal(err)
			}
			var out struct {
				Revoked int `json:"revoked_access_tokens"`
			}
			f.json(http.MethodPost, adminapi.Prefix+"/clients/reporting/disable", nil, http.StatusOK, &out)
			if out.Revoked != 1 || len(f.revoker.jtis) != 1 || f.revoker.jtis[0] != "jti-r" {
				t.Fatalf("disable: %+v, revoker %v", out, f.revoker.jtis)
			}
			var v admin.ClientView
			f.json(http.MethodGet, adminapi.Prefix+"/clients/reporting", nil, http.StatusOK, &v)
			if !v.Disabled {
				t.Fatalf("view %+v", v)
			}
			f.json(http.MethodPost, adminapi.Prefix+"/clients/from-file/disable", nil, http.StatusConflict, nil)
			f.json(http.MethodPost, adminapi.Prefix+"/clients/from-file/enable", nil, http.StatusConflict, nil)
			f.json(http.MethodPost, adminapi.Prefix+"/clients/nobody/disable", nil, http.StatusNotFound, nil)
			f.json(http.MethodPost, adminapi.Prefix+"/clients/reporting/enable", nil, http.StatusNoContent, nil)
			f.json(http.MethodGet, adminapi.Prefix+"/clients/reporting", nil, http.StatusOK, &v)
			if v.Disabled {
				t.Fatalf("enabled view %+v", v)
			}
			if len(f.records(audit.ActionClientDisable)) != 1 || len(f.records(audit.ActionClientEnable)) != 1 {
				t.Fatal("client.disable / client.enable not recorded once each")
			}
		})
	}
}
