package oauth_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/oauth"
)

// signInAs signs b in at the login page (no authorization request) and
// returns the page it lands on.
func (b *browser) signInAs(username, password string) page {
	b.t.Helper()
	lp := b.get(oauth.PathLogin)
	form := hidden(lp.body)
	form.Set("username", username)
	form.Set("password", password)
	return b.post(oauth.PathLogin, form)
}

// stealCookies gives thief every cookie b holds for the issuer (a copied
// session cookie).
func (b *browser) stealCookies(thief *browser) {
	u, _ := url.Parse(b.e.issuer)
	thief.client.Jar.SetCookies(u, b.client.Jar.Cookies(u))
}

// changePassword submits the password form from the account.
func (b *browser) changePassword(current, next, again string) page {
	b.t.Helper()
	p := b.get(oauth.PathAccountPassword)
	if p.status != http.StatusOK {
		b.t.Fatalf("password page: %d %q", p.status, p.location)
	}
	form := hidden(p.body)
	form.Set("current_password", current)
	form.Set("new_password", next)
	form.Set("new_password_again", again)
	return b.post(oauth.PathAccountPassword, form)
}

const newPass = "a brand new passphrase for alice"

// TestStolenCookieDeadAfterPasswordChange performs the attack of issue
// 13: a thief copies the session cookie (and the client holds a refresh
// token); the owner changes the password in their own browser; the
// copied cookie, the refresh token and the old password are all refused,
// the owner's browser goes on with a new session id.
func TestStolenCookieDeadAfterPasswordChange(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		code, verifier, owner := e.codeFor(t, webID, "openid notes:read")
		st, tok := e.exchange(code, verifier, webID, "")
		mustStatus(t, st, http.StatusOK, "exchange", tok)
		refresh := str(tok, "refresh_token")
		thief := e.browser()
		owner.stealCookies(thief)
		if p := thief.get(oauth.PathAccount); p.status != http.StatusOK {
			t.Fatalf("the copied cookie does not work before the change (test broken): %d", p.status)
		}
		oldCookie := owner.client.Jar.Cookies(mustURL(e.issuer))
		p := owner.changePassword(userPass, newPass, newPass)
		if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, oauth.PathAccount) {
			t.Fatalf("password change: %d %q %.300s", p.status, p.location, p.body)
		}
		if p := thief.get(oauth.PathAccount); p.status != http.StatusSeeOther || p.location != oauth.PathLogin {
			t.Fatalf("the stolen cookie still works after the password change: %d %q", p.status, p.location)
		}
		if p := owner.get(oauth.PathAccount); p.status != http.StatusOK {
			t.Fatalf("the owner's browser lost its session: %d %q", p.status, p.location)
		}
		if sameSession(oldCookie, owner.client.Jar.Cookies(mustURL(e.issuer))) {
			t.Fatal("the session id did not rotate on the password change")
		}
		st, body, _ := e.tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {webID}}, "", "")
		wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
		if st := e.userinfoStatus(str(tok, "access_token")); st != http.StatusUnauthorized {
			t.Fatalf("the access token from before the change still works at userinfo: %d", st)
		}
		if p := e.browser().signInAs(userName, userPass); p.status != http.StatusUnauthorized {
			t.Fatalf("the old password still signs in: %d", p.status)
		}
		if p := e.browser().signInAs(userName, newPass); p.status != http.StatusSeeOther {
			t.Fatalf("the new password does not sign in: %d", p.status)
		}
		if ev := e.events(audit.ActionPasswordChange); len(ev) != 1 || ev[0].Outcome != audit.OutcomeSuccess {
			t.Fatalf("user.password_change events: %+v", ev)
		}
		if ev := e.events(audit.ActionSessionEnd); len(ev) != 1 || ev[0].Details["sessions"] != "1" || ev[0].Reason != "password_change" {
			t.Fatalf("session.end events: %+v", ev)
		}
	})
}

func identityUser(name, pass string) identity.NewUser {
	return identity.NewUser{Actor: "system", Username: name, Password: pass}
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

func sameSession(a, b []*http.Cookie) bool {
	for _, x := range a {
		for _, y := range b {
			if x.Name == "rampart-session" && y.Name == x.Name {
				return x.Value == y.Value
			}
		}
	}
	return false
}

// TestPasswordChangeRefusals: a wrong current password, differing new
// passwords, a short one and a missing CSRF token change nothing and end
// no session.
func TestPasswordChangeRefusals(t *testing.T) {
	e := newEnv(t, "sqlite")
	b := e.browser()
	if p := b.signInAs(userName, userPass); p.status != http.StatusSeeOther {
		t.Fatalf("sign in: %d", p.status)
	}
	for name, c := range map[string]struct {
		cur, next, again string
		want             int
	}{
		"reject/wrong-current":  {"not the password at all", newPass, newPass, http.StatusUnauthorized},
		"reject/mismatch":       {userPass, newPass, newPass + "x", http.StatusBadRequest},
		"reject/too-short":      {userPass, "short", "short", http.StatusBadRequest},
		"reject/same-as-before": {userPass, userPass, userPass, http.StatusBadRequest},
	} {
		t.Run(name, func(t *testing.T) {
			if p := b.changePassword(c.cur, c.next, c.again); p.status != c.want {
				t.Fatalf("status %d, want %d", p.status, c.want)
			}
			if p := b.get(oauth.PathAccount); p.status != http.StatusOK {
				t.Fatalf("a refused change ended the session: %d", p.status)
			}
		})
	}
	t.Run("reject/no-csrf", func(t *testing.T) {
		form := url.Values{"current_password": {userPass}, "new_password": {newPass}, "new_password_again": {newPass}}
		if p := b.post(oauth.PathAccountPassword, form); p.status != http.StatusForbidden {
			t.Fatalf("tokenless post: %d", p.status)
		}
	})
	if p := e.browser().signInAs(userName, userPass); p.status != http.StatusSeeOther {
		t.Fatalf("the password changed after refusals: %d", p.status)
	}
}

// TestEndOtherSessions: "sign out everywhere else" ends the other
// browsers, keeps this one; ending one session by its handle works only
// for the user's own sessions.
func TestEndOtherSessions(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		laptop, phone := e.browser(), e.browser()
		for _, b := range []*browser{laptop, phone} {
			if p := b.signInAs(userName, userPass); p.status != http.StatusSeeOther {
				t.Fatalf("sign in: %d", p.status)
			}
		}
		acc := laptop.get(oauth.PathAccount)
		if strings.Count(acc.body, `name="session"`) != 2 || !strings.Contains(acc.body, "(this browser)") {
			t.Fatalf("account page does not list both sessions:\n%s", acc.body)
		}
		p := laptop.post(oauth.PathAccountSessionsEnd, url.Values{"csrf_token": {hidden(acc.body).Get("csrf_token")}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("end others: %d %s", p.status, p.body)
		}
		if p := phone.get(oauth.PathAccount); p.status != http.StatusSeeOther {
			t.Fatalf("the other session survived: %d", p.status)
		}
		if p := laptop.get(oauth.PathAccount); p.status != http.StatusOK || strings.Count(p.body, `name="session"`) != 1 {
			t.Fatalf("this session was ended or still lists others: %d", p.status)
		}
		if ev := e.events(audit.ActionSessionEnd); len(ev) != 1 || ev[0].Details["sessions"] != "1" {
			t.Fatalf("session.end events: %+v", ev)
		}
	})
}

// TestEndSessionOfAnotherUser: a session handle of another user, posted
// with a valid form of one's own, ends nothing (no IDOR).
func TestEndSessionOfAnotherUser(t *testing.T) {
	e := newEnv(t, "sqlite")
	if _, err := e.users.Create(t.Context(), identityUser("mallory", "mallory's long password")); err != nil {
		t.Fatal(err)
	}
	alice, mallory := e.browser(), e.browser()
	alice.signInAs(userName, userPass)
	mallory.signInAs("mallory", "mallory's long password")
	aliceHandle := inputRE.FindAllStringSubmatch(alice.get(oauth.PathAccount).body, -1)
	var handle string
	for _, m := range aliceHandle {
		if m[1] == "session" {
			handle = m[2]
		}
	}
	if handle == "" {
		t.Fatal("no session handle on alice's page")
	}
	mp := mallory.get(oauth.PathAccount)
	mallory.post(oauth.PathAccountSessionEnd, url.Values{"csrf_token": {hidden(mp.body).Get("csrf_token")}, "session": {handle}})
	if p := alice.get(oauth.PathAccount); p.status != http.StatusOK {
		t.Fatalf("mallory ended alice's session: %d", p.status)
	}
}

// TestAttackPasswordChangeGuessing: a thief with a stolen session guesses
// the current password on the change form; the guesses share the
// sign-in budget of the user's name, so the form locks like the login
// form does, the right password included, and nothing changes.
func TestAttackPasswordChangeGuessing(t *testing.T) {
	sl := &sleeps{}
	e := newEnvOpts(t, "sqlite", func(o *oauth.Options) {
		o.LoginLimiter = loginLimiter(t, 1000, 4)
		o.Sleep = sl.sleep
	})
	thief := e.browser()
	if p := thief.signInAs(userName, userPass); p.status != http.StatusSeeOther { // one of the 4
		t.Fatalf("sign in: %d", p.status)
	}
	var codes []int
	for i := 0; i < 3; i++ {
		codes = append(codes, thief.changePassword("guess number "+itoa64(int64(i))+" of the thief", newPass, newPass).status)
	}
	p := thief.changePassword(userPass, newPass, newPass)
	codes = append(codes, p.status)
	want := []int{http.StatusUnauthorized, http.StatusUnauthorized, http.StatusUnauthorized, http.StatusTooManyRequests}
	for i := range want {
		if codes[i] != want[i] {
			t.Fatalf("statuses %v, want %v", codes, want)
		}
	}
	if p.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	if ev := e.events(audit.ActionPasswordChange); len(ev) != 4 || ev[3].Reason != "rate_limited" {
		t.Fatalf("user.password_change events: %+v", ev)
	}
	if u, err := e.users.Authenticate(t.Context(), userName, userPass); err != nil || u == nil {
		t.Fatalf("the password changed under the limit: %v", err)
	}
}

// TestEndUserAccessFromStores: the administrative path (password reset,
// disabling a user) builds the AccessEnder from the raw stores, as
// internal/admin will; it ends every session and refresh-token family and
// denies the live access tokens, and a second run is harmless.
func TestEndUserAccessFromStores(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		code, verifier, b := e.codeFor(t, webID, "openid notes:read")
		st, tok := e.exchange(code, verifier, webID, "")
		mustStatus(t, st, http.StatusOK, "exchange", tok)
		other := e.browser()
		other.signInAs(userName, userPass)
		ender := oauth.AccessEnder{Sessions: e.store.IdentityStore, Tokens: e.store.OAuthStore, Revoker: oauth.Revoker{Store: e.store.OAuthStore}, Audit: e.audit}
		got, err := ender.EndUserAccess(t.Context(), "admin:test", e.userID, "password_reset")
		if err != nil || got.Sessions != 2 || got.AccessTokens != 1 {
			t.Fatalf("end access: %+v %v", got, err)
		}
		for _, br := range []*browser{b, other} {
			if p := br.get(oauth.PathAccount); p.status != http.StatusSeeOther {
				t.Fatalf("a session survived: %d", p.status)
			}
		}
		st, body, _ := e.tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(tok, "refresh_token")}, "client_id": {webID}}, "", "")
		wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
		if st := e.userinfoStatus(str(tok, "access_token")); st != http.StatusUnauthorized {
			t.Fatalf("access token still accepted: %d", st)
		}
		if again, err := ender.EndUserAccess(t.Context(), "admin:test", e.userID, "password_reset"); err != nil || again.Sessions != 0 || again.AccessTokens != 0 {
			t.Fatalf("second run: %+v %v", again, err)
		}
		if ev := e.events(audit.ActionUserAccessEnd); len(ev) != 2 || ev[0].Actor != "admin:test" || ev[0].Reason != "password_reset" {
			t.Fatalf("user.access_end events: %+v", ev)
		}
	})
}
