package oauth_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
	"github.com/rampart-auth/rampart/ratelimit"
)

// MFA test fixtures.
const (
	secureID  = "secure" // public, first-party, require_mfa
	secureCB  = "http://127.0.0.1:9/secure-callback"
	adminName = "root"
	adminPass = "an admin password long enough"
	bobName   = "bob"
	bobPass   = "bob's password is long enough"
	otpBurst  = 3
	nameBurst = 10
)

// mfaEnv is an authorization server whose second factor, pending
// sign-ins and OTP lockout run on a fake clock.
type mfaEnv struct {
	*env
	clock   *testkit.Clock
	mfa     *identity.MFA
	loginL  *ratelimit.Limiter
	adminID string
	bobID   string
}

func newMFAEnv(t *testing.T, driver string) *mfaEnv {
	t.Helper()
	clock := testkit.NewClock(time.Now())
	kek, err := kms.NewKEK(testMasterKey(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	me := &mfaEnv{clock: clock}
	e := newEnvOpts(t, driver, func(o *oauth.Options) {
		st := o.Store.(identity.MFAStore)
		me.mfa = identity.NewMFA(st, kek, "Rampart", clock.Now, nil)
		o.MFA, o.Now = me.mfa, clock.Now
		rc := func() int64 { return clock.Nanos() }
		var err error
		me.loginL, err = ratelimit.NewLimiter(ratelimit.NewMemoryStore(rc),
			ratelimit.Limit{Name: "ip", Rate: 1000, Period: time.Minute, Burst: 1000},
			ratelimit.Limit{Name: "username", Rate: nameBurst, Period: 15 * time.Minute, Burst: nameBurst})
		if err != nil {
			t.Fatal(err)
		}
		o.LoginLimiter = me.loginL
		o.OTPLimiter, err = ratelimit.NewLimiter(ratelimit.NewMemoryStore(rc),
			ratelimit.Limit{Name: oauth.LimitOTPUser, Rate: otpBurst, Period: 15 * time.Minute, Burst: otpBurst})
		if err != nil {
			t.Fatal(err)
		}
		o.Sleep = func(context.Context, time.Duration) error { return nil }
		// A require_mfa client next to the harness's clients.
		secure := oauth.ClientFromConfig(config.Client{ID: secureID, Public: true, GrantTypes: []string{"authorization_code"},
			RedirectURIs: []string{secureCB}, Scopes: []string{"openid"}, SkipConsent: true, RequireMFA: true}, "", nil)
		hasher, err := identity.NewHasher(identity.Params{}, 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		o.Clients = oauth.NewRegistry(append(o.Clients.Configured(), secure), o.Store, testMasterKey(t).Derive(kms.LabelClientSecret), hasher)
	})
	me.env = e
	ctx := context.Background()
	a, err := e.users.Create(ctx, identity.NewUser{Actor: "system", Username: adminName, Password: adminPass, Role: identity.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.users.Create(ctx, identity.NewUser{Actor: "system", Username: bobName, Password: bobPass})
	if err != nil {
		t.Fatal(err)
	}
	me.adminID, me.bobID = a.ID, b.ID
	return me
}

func forEachMFADriver(t *testing.T, fn func(t *testing.T, e *mfaEnv)) {
	t.Helper()
	for _, d := range storetest.Drivers(t) {
		t.Run(d, func(t *testing.T) { fn(t, newMFAEnv(t, d)) })
	}
}

// totpCode is what an authenticator app shows for secret at the env's time.
func (e *mfaEnv) totpCode(secret string) string {
	e.t.Helper()
	c, err := totp.GenerateCodeCustom(secret, e.clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// enrol gives user a confirmed TOTP (through the domain service) and
// moves the clock to the next step.
func (e *mfaEnv) enrol(userID, username string) (string, []string) {
	e.t.Helper()
	ctx := context.Background()
	en, err := e.mfa.Begin(ctx, &identity.User{ID: userID, Username: username})
	if err != nil {
		e.t.Fatal(err)
	}
	codes, err := e.mfa.Confirm(ctx, userID, e.totpCode(en.Secret))
	if err != nil {
		e.t.Fatal(err)
	}
	e.clock.Add(30 * time.Second)
	return en.Secret, codes
}

// wrongCode is a 6-digit code valid at no step of the accepted window.
func (e *mfaEnv) wrongCode(secret string) string {
	e.t.Helper()
	window := map[string]bool{}
	for _, d := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
		window[secretCodeAt(e.t, secret, e.clock.Now().Add(d))] = true
	}
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if !window[c] {
			return c
		}
	}
	e.t.Fatal("no wrong code")
	return ""
}

// sessionCookie reports whether b holds a session cookie for the issuer.
func (b *browser) sessionCookie() string {
	u, _ := url.Parse(b.e.issuer)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == identity.SessionCookiePlain {
			return c.Value
		}
	}
	return ""
}

// passwordStep follows authURL to the login page and posts the password;
// it returns the answer (the OTP form when the user has TOTP).
func (b *browser) passwordStep(authURL, username, password string) page {
	b.t.Helper()
	p := b.get(authURL)
	if p.status != http.StatusSeeOther || !strings.Contains(p.location, oauth.PathLogin) {
		b.t.Fatalf("authorize without session: %d %q", p.status, p.location)
	}
	lp := b.get(p.location)
	form := hidden(lp.body)
	form.Set("username", username)
	form.Set("password", password)
	return b.post(oauth.PathLogin, form)
}

// otpStep posts code with the hidden inputs of the OTP page p.
func (b *browser) otpStep(p page, code string) page {
	b.t.Helper()
	form := hidden(p.body)
	if form.Get("pending") == "" {
		b.t.Fatalf("no pending sign-in on the page: %d %.400s", p.status, p.body)
	}
	form.Set("otp", code)
	return b.post(oauth.PathLoginOTP, form)
}

func (e *mfaEnv) webAuthURL(extra ...string) (string, string) {
	verifier, challenge := pkce()
	return e.authorizeURL(webID, e.callback, "openid profile", "st", challenge, extra...), verifier
}

// jwtClaims decodes a JWT's payload without verifying it (the tests
// verify with go-oidc or jwtauth first).
func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMFANoSessionBeforeOTPAndAMRInTokens(t *testing.T) {
	forEachMFADriver(t, func(t *testing.T, e *mfaEnv) {
		ctx := context.Background()
		secret, _ := e.enrol(e.userID, userName)
		provider, err := oidc.NewProvider(ctx, e.issuer)
		if err != nil {
			t.Fatal(err)
		}
		conf := oauth2.Config{ClientID: webID, Endpoint: provider.Endpoint(), RedirectURL: e.callback, Scopes: []string{oidc.ScopeOpenID}}
		verifier := oauth2.GenerateVerifier()
		b := e.browser()
		p := b.passwordStep(conf.AuthCodeURL("s1", oauth2.S256ChallengeOption(verifier)), userName, userPass)
		if p.status != http.StatusOK || !strings.Contains(p.body, `name="otp"`) || !strings.Contains(p.body, `action="/login/otp"`) {
			t.Fatalf("after the password: %d %.300s", p.status, p.body)
		}
		// The password alone started no session: nothing to replay.
		if b.sessionCookie() != "" || strings.Contains(strings.Join(p.header.Values("Set-Cookie"), ";"), identity.SessionCookiePlain) {
			t.Fatal("a session cookie exists before the second factor")
		}
		if a := b.get(conf.AuthCodeURL("s1", oauth2.S256ChallengeOption(verifier))); a.status != http.StatusSeeOther || !strings.Contains(a.location, oauth.PathLogin) {
			t.Fatalf("authorize after the password only: %d %q", a.status, a.location)
		}
		res := b.otpStep(p, e.totpCode(secret))
		if res.status != http.StatusSeeOther || b.sessionCookie() == "" {
			t.Fatalf("otp step: %d %q %.300s", res.status, res.location, res.body)
		}
		q := b.codeFrom(b.get(res.location))
		tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := provider.Verifier(&oidc.Config{ClientID: webID}).Verify(ctx, raw)
		if err != nil {
			t.Fatalf("go-oidc: %v", err)
		}
		var c struct {
			AMR []string `json:"amr"`
			ACR string   `json:"acr"`
		}
		if err := idt.Claims(&c); err != nil || strings.Join(c.AMR, " ") != "pwd otp" || c.ACR != oauth.ACRMFA {
			t.Fatalf("ID token amr %v acr %q (%v)", c.AMR, c.ACR, err)
		}
		if _, err := verifierFor(t, e.env, apiAud).Verify(ctx, tok.AccessToken); err != nil {
			t.Fatal(err)
		}
		at := jwtClaims(t, tok.AccessToken)
		if at["acr"] != oauth.ACRMFA || len(at["amr"].([]any)) != 2 {
			t.Fatalf("access token amr %v acr %v", at["amr"], at["acr"])
		}
		// The refresh token keeps them.
		tok.Expiry = time.Now().Add(-time.Minute)
		next, err := conf.TokenSource(ctx, tok).Token()
		if err != nil {
			t.Fatal(err)
		}
		if nat := jwtClaims(t, next.AccessToken); nat["acr"] != oauth.ACRMFA {
			t.Fatalf("refreshed access token acr %v", nat["acr"])
		}
		if n := len(e.events("mfa.verify")); n != 1 {
			t.Fatalf("%d mfa.verify events, want 1", n)
		}
	})
}

func TestMFAPasswordOnlyUserGetsPwdACR(t *testing.T) {
	forEachMFADriver(t, func(t *testing.T, e *mfaEnv) {
		authURL, verifier := e.webAuthURL()
		b := e.browser()
		q := b.codeFrom(b.login(authURL, bobName, bobPass))
		status, body, _ := e.tokenRequest(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {e.callback},
			"client_id": {webID}, "code_verifier": {verifier}}, "", "")
		mustStatus(t, status, http.StatusOK, "token", body)
		id := jwtClaims(t, str(body, "id_token"))
		if id["acr"] != oauth.ACRPassword || len(id["amr"].([]any)) != 1 {
			t.Fatalf("ID token amr %v acr %v", id["amr"], id["acr"])
		}
	})
}

func TestMFAUsedCodeRefusedInItsStep(t *testing.T) {
	forEachMFADriver(t, func(t *testing.T, e *mfaEnv) {
		secret, _ := e.enrol(e.userID, userName)
		code := e.totpCode(secret)
		authURL, _ := e.webAuthURL()
		b1 := e.browser()
		if res := b1.otpStep(b1.passwordStep(authURL, userName, userPass), code); res.status != http.StatusSeeOther {
			t.Fatalf("first use: %d", res.status)
		}
		// An attacker who saw the code (shoulder, phishing proxy) and
		// knows the password replays it within the same 30 s.
		b2 := e.browser()
		res := b2.otpStep(b2.passwordStep(authURL, userName, userPass), code)
		if res.status != http.StatusUnauthorized || b2.sessionCookie() != "" {
			t.Fatalf("replayed code: %d, session %q", res.status, b2.sessionCookie())
		}
		// And a code two steps old is refused even when unused.
		// (a fresh sign-in after the OTP budget refilled).
		e.clock.Add(15 * time.Minute)
		old := secretCodeAt(t, secret, e.clock.Now().Add(-60*time.Second))
		res = b2.otpStep(b2.passwordStep(authURL, userName, userPass), old)
		if res.status != http.StatusUnauthorized || b2.sessionCookie() != "" {
			t.Fatalf("code from two steps ago: %d", res.status)
		}
	})
}

func secretCodeAt(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMFARecoveryCodeWorksOnce(t *testing.T) {
	forEachMFADriver(t, func(t *testing.T, e *mfaEnv) {
		_, codes := e.enrol(e.userID, userName)
		authURL, _ := e.webAuthURL()
		b := e.browser()
		if res := b.otpStep(b.passwordStep(authURL, userName, userPass), codes[0]); res.status != http.StatusSeeOther {
			t.Fatalf("recovery code: %d %.300s", res.status, res.body)
		}
		b2 := e.browser()
		if res := b2.otpStep(b2.passwordStep(authURL, userName, userPass), codes[0]); res.status != http.StatusUnauthorized {
			t.Fatalf("recovery code reused: %d", res.status)
		}
		if n := len(e.events("mfa.recovery_used")); n != 1 {
			t.Fatalf("%d mfa.recovery_used events, want 1", n)
		}
	})
}

func TestMFAPendingSignInCannotBeForgedReplayedOrAged(t *testing.T) {
	forEachMFADriver(t, func(t *testing.T, e *mfaEnv) {
		secret, _ := e.enrol(e.userID, userName)
		adminSecret, _ := e.enrol(e.adminID, adminName)
		authURL, _ := e.webAuthURL()

		t.Run("forged", func(t *testing.T) {
			b := e.browser()
			p := b.passwordStep(authURL, userName, userPass)
			form := hidden(p.body)
			payload, mac, _ := strings.Cut(form.Get("pending"), ".")
			raw, _ := base64.RawURLEncoding.DecodeString(payload)
			// Alice's pending sign-in rewritten to name the admin, whose
			// code the attacker holds (but not the admin's password).
			forged := strings.Replace(string(raw), e.userID, e.adminID, 1)
			for name, v := range map[string]string{
				"other-user": base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + mac,
				"no-mac":     payload,
				"garbage":    "x.y",
				"empty":      "",
			} {
				f := hidden(p.body)
				f.Set("pending", v)
				f.Set("otp", e.totpCode(adminSecret))
				if res := b.post(oauth.PathLoginOTP, f); res.status != http.StatusBadRequest || b.sessionCookie() != "" {
					t.Fatalf("%s: %d", name, res.status)
				}
			}
		})
		t.Run("other-browser", func(t *testing.T) {
			victim := e.browser()
			p := victim.passwordStep(authURL, userName, userPass)
			thief := e.browser()
			lp := thief.get(oauth.PathLogin)
			f := hidden(lp.body) // the thief's own CSRF token and cookie
			f.Set("return", hidden(p.body).Get("return"))
			f.Set("pending", hidden(p.body).Get("pending"))
			f.Set("otp", e.totpCode(secret))
			if res := thief.post(oauth.PathLoginOTP, f); res.status != http.StatusBadRequest || thief.sessionCookie() != "" {
				t.Fatalf("pending sign-in used from another browser: %d", res.status)
			}
		})
		t.Run("replayed-after-completion", func(t *testing.T) {
			e.clock.Add(30 * time.Second)
			b := e.browser()
			p := b.passwordStep(authURL, userName, userPass)
			if res := b.otpStep(p, e.totpCode(secret)); res.status != http.StatusSeeOther {
				t.Fatalf("sign-in: %d", res.status)
			}
			first := b.sessionCookie()
			e.clock.Add(30 * time.Second)
			// The same pending sign-in with the next (valid, unused) code.
			res := b.otpStep(p, e.totpCode(secret))
			if res.status != http.StatusUnauthorized || b.sessionCookie() != first {
				t.Fatalf("replayed pending sign-in: %d", res.status)
			}
		})
		t.Run("expired", func(t *testing.T) {
			e.clock.Add(30 * time.Second)
			b := e.browser()
			p := b.passwordStep(authURL, userName, userPass)
			// A wrong code near the end re-renders the form: the new page's
			// pending sign-in keeps the first one's time.
			e.clock.Add(oauth.PendingLoginTTL - 30*time.Second)
			wrong := e.wrongCode(secret)
			again := b.otpStep(p, wrong)
			if again.status != http.StatusUnauthorized {
				t.Fatalf("wrong code: %d", again.status)
			}
			e.clock.Add(31 * time.Second)
			if res := b.otpStep(again, e.totpCode(secret)); res.status != http.StatusBadRequest || b.sessionCookie() != "" {
				t.Fatalf("pending sign-in after 5 minutes: %d", res.status)
			}
		})
	})
}

// loginBudget reads the username limit's remaining budget for name
// without spending it.
func (e *mfaEnv) loginBudget(name string) int64 {
	e.t.Helper()
	res := make([]ratelimit.Result, 2)
	if _, err := e.loginL.Decide(context.Background(), nameBurst+1, res, "", name); err != nil {
		e.t.Fatal(err)
	}
	return res[1].Remaining
}

func TestMFABruteForceLocksOnlyTheOTPStep(t *testing.T) {
	forEachMFADriver(t, func(t *testing.T, e *mfaEnv) {
		secret, _ := e.enrol(e.userID, userName)
		authURL, _ := e.webAuthURL()
		b := e.browser()
		p := b.passwordStep(authURL, userName, userPass)
		good := e.totpCode(secret)
		wrong := e.wrongCode(secret)
		var res page
		for i := range otpBurst {
			res = b.otpStep(p, wrong)
			want := http.StatusUnauthorized
			if i == otpBurst-1 {
				want = http.StatusTooManyRequests
			}
			if res.status != want {
				t.Fatalf("wrong code %d: %d, want %d", i+1, res.status, want)
			}
			if i < otpBurst-1 {
				p = res
			}
		}
		// The attempt is over: the pending sign-in is dead even with the
		// right code, and a fresh one (the password again) gets the OTP
		// form, whose correct code is refused until the budget refills.
		if res := b.otpStep(p, good); res.status != http.StatusTooManyRequests || b.sessionCookie() != "" {
			t.Fatalf("correct code on the dead attempt: %d", res.status)
		}
		again := b.passwordStep(authURL, userName, userPass)
		if again.status != http.StatusOK || !strings.Contains(again.body, `name="otp"`) {
			t.Fatalf("password after the OTP lockout: %d (the password counter must be untouched)", again.status)
		}
		if res := b.otpStep(again, good); res.status != http.StatusTooManyRequests || b.sessionCookie() != "" {
			t.Fatalf("correct code while locked: %d", res.status)
		}
		// The password counters: alice spent exactly her two password
		// attempts; bob's budget is whole and he signs in.
		if got := e.loginBudget(userName); got != nameBurst-2 {
			t.Fatalf("alice's password budget %d, want %d", got, nameBurst-2)
		}
		if got := e.loginBudget(bobName); got != nameBurst {
			t.Fatalf("bob's password budget %d, want %d", got, nameBurst)
		}
		bob := e.browser()
		bob.codeFrom(bob.login(authURL, bobName, bobPass))
		// After the refill the right code works again.
		e.clock.Add(15 * time.Minute)
		again = b.passwordStep(authURL, userName, userPass)
		if res := b.otpStep(again, e.totpCode(secret)); res.status != http.StatusSeeOther {
			t.Fatalf("after the refill: %d", res.status)
		}
		if n := len(e.events("mfa.verify")); n < otpBurst+2 {
			t.Fatalf("%d mfa.verify events", n)
		}
	})
}

func TestMFAAdminForcedToEnrolBeforeAuthorization(t *testing.T) {
	forEachMFADriver(t, func(t *testing.T, e *mfaEnv) {
		authURL, verifier := e.webAuthURL()
		b := e.browser()
		p := b.passwordStep(authURL, adminName, adminPass)
		if p.status != http.StatusOK || !strings.Contains(p.body, `id="mfa-required"`) || !strings.Contains(p.body, `src="data:image/png;base64,`) {
			t.Fatalf("admin after the password: %d %.400s", p.status, p.body)
		}
		if b.sessionCookie() != "" {
			t.Fatal("an admin without TOTP got a session from the password alone")
		}
		if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data:") || !strings.Contains(csp, "default-src 'none'") {
			t.Fatalf("enrolment CSP %q", csp)
		}
		secret := between(p.body, `<code id="secret">`, `</code>`)
		form := hidden(p.body)
		form.Set("otp", "12345x")
		if res := b.post(oauth.PathLoginEnrol, form); res.status != http.StatusUnauthorized || b.sessionCookie() != "" {
			t.Fatalf("wrong first code: %d", res.status)
		}
		form.Set("otp", e.totpCode(secret))
		res := b.post(oauth.PathLoginEnrol, form)
		if res.status != http.StatusOK || strings.Count(res.body, "<li><code>") != 10 || b.sessionCookie() == "" {
			t.Fatalf("enrolment: %d %.400s", res.status, res.body)
		}
		next := html2text(between(res.body, `<a href="`, `" id="continue">`))
		q := b.codeFrom(b.get(next))
		status, body, _ := e.tokenRequest(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {e.callback},
			"client_id": {webID}, "code_verifier": {verifier}}, "", "")
		mustStatus(t, status, http.StatusOK, "token", body)
		if id := jwtClaims(t, str(body, "id_token")); id["acr"] != oauth.ACRMFA {
			t.Fatalf("admin ID token acr %v", id["acr"])
		}
		// Replaying the enrolment post from the same browser (valid CSRF
		// token, unexpired pending sign-in): the set-up is active, so it is
		// refused and starts no new session.
		sess := b.sessionCookie()
		if res := b.post(oauth.PathLoginEnrol, form); res.status != http.StatusBadRequest || b.sessionCookie() != sess {
			t.Fatalf("enrolment replay: %d", res.status)
		}
		if n := len(e.events("mfa.enroll")); n != 2 { // one failure, one success
			t.Fatalf("%d mfa.enroll events, want 2", n)
		}
	})
}

func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, to)
	return v
}

func html2text(s string) string { return strings.ReplaceAll(s, "&amp;", "&") }

func TestMFARequireMFAClientAndACRValuesStepUp(t *testing.T) {
	forEachMFADriver(t, func(t *testing.T, e *mfaEnv) {
		// Bob has no TOTP and signs in to a client that does not care.
		authURL, _ := e.webAuthURL()
		b := e.browser()
		b.codeFrom(b.login(authURL, bobName, bobPass))
		before := b.sessionCookie()

		// acr_values asks for the second factor: step-up (bob must enrol).
		acrURL, _ := e.webAuthURL("acr_values", oauth.ACRMFA)
		if p := b.get(acrURL); p.status != http.StatusOK || !strings.Contains(p.body, `action="/login/enrol"`) {
			t.Fatalf("acr_values=mfa with a pwd session: %d %q", p.status, p.location)
		}
		// prompt=none cannot step up.
		noneURL, _ := e.webAuthURL("acr_values", oauth.ACRMFA, "prompt", "none")
		if p := b.get(noneURL); p.status != http.StatusSeeOther || !strings.Contains(p.location, "error=login_required") {
			t.Fatalf("prompt=none step-up: %d %q", p.status, p.location)
		}

		// The require_mfa client: the same pwd session is not enough.
		_, challenge := pkce()
		secureURL := e.authorizeURL(secureID, secureCB, "openid", "s", challenge)
		p := b.get(secureURL)
		if p.status != http.StatusOK || !strings.Contains(p.body, `action="/login/enrol"`) {
			t.Fatalf("require_mfa client with a pwd session: %d %q", p.status, p.location)
		}
		secret := between(p.body, `<code id="secret">`, `</code>`)
		form := hidden(p.body)
		form.Set("otp", e.totpCode(secret))
		res := b.post(oauth.PathLoginEnrol, form)
		if res.status != http.StatusOK {
			t.Fatalf("enrolment: %d", res.status)
		}
		after := b.sessionCookie()
		if after == "" || after == before {
			t.Fatal("the step-up did not rotate the session id")
		}
		final := b.get(html2text(between(res.body, `<a href="`, `" id="continue">`)))
		if final.status != http.StatusSeeOther || !strings.HasPrefix(final.location, secureCB+"?code=") && !strings.Contains(final.location, "code=") {
			t.Fatalf("after the step-up: %d %q", final.status, final.location)
		}
		// Now bob has TOTP: a new browser's sign-in to the secure client
		// asks for the code after the password.
		e.clock.Add(30 * time.Second)
		b2 := e.browser()
		p2 := b2.passwordStep(secureURL, bobName, bobPass)
		if p2.status != http.StatusOK || !strings.Contains(p2.body, `name="otp"`) {
			t.Fatalf("bob with TOTP: %d", p2.status)
		}
		if res := b2.otpStep(p2, e.totpCode(secret)); res.status != http.StatusSeeOther {
			t.Fatalf("bob's code: %d", res.status)
		}
	})
}

func TestMFAStepUpOfAPasswordSessionAsksForTheCode(t *testing.T) {
	forEachMFADriver(t, func(t *testing.T, e *mfaEnv) {
		// Bob signs in with the password only, then sets up TOTP elsewhere:
		// this session's amr is still pwd.
		authURL, _ := e.webAuthURL()
		b := e.browser()
		b.codeFrom(b.login(authURL, bobName, bobPass))
		before := b.sessionCookie()
		secret, _ := e.enrol(e.bobID, bobName)

		// A hand-built consent post for a request that needs the second
		// factor does not skip the step-up.
		_, challenge := pkce()
		appURL := e.authorizeURL(appID, e.callback, "openid", "s", challenge, "acr_values", oauth.ACRMFA)
		lp := b.get(appURL)
		if lp.status != http.StatusOK || !strings.Contains(lp.body, `action="/login/otp"`) {
			t.Fatalf("acr_values=mfa for the consent client: %d %q", lp.status, lp.location)
		}
		u, _ := url.Parse(appURL)
		forged := url.Values{"csrf_token": {hidden(lp.body).Get("csrf_token")}, "request": {u.RawQuery}, "decision": {"allow"}}
		if res := b.post(oauth.PathConsent, forged); res.status != http.StatusSeeOther || !strings.HasPrefix(res.location, oauth.PathAuthorize) {
			t.Fatalf("consent post without the second factor: %d %q", res.status, res.location)
		}

		// The require_mfa client: the code form, then a new session.
		_, challenge = pkce()
		p := b.get(e.authorizeURL(secureID, secureCB, "openid", "s", challenge))
		if p.status != http.StatusOK || !strings.Contains(p.body, `action="/login/otp"`) {
			t.Fatalf("step-up with TOTP: %d %q", p.status, p.location)
		}
		res := b.otpStep(p, e.totpCode(secret))
		if res.status != http.StatusSeeOther || b.sessionCookie() == before {
			t.Fatalf("step-up: %d, session rotated %v", res.status, b.sessionCookie() != before)
		}
		final := b.get(res.location)
		if final.status != http.StatusSeeOther || !strings.HasPrefix(final.location, secureCB) || !strings.Contains(final.location, "code=") {
			t.Fatalf("after the step-up: %d %q", final.status, final.location)
		}
	})
}

func TestMFAAccountEnrolAndDisable(t *testing.T) {
	forEachMFADriver(t, func(t *testing.T, e *mfaEnv) {
		authURL, _ := e.webAuthURL()
		b := e.browser()
		b.codeFrom(b.login(authURL, bobName, bobPass))
		acct := b.get(oauth.PathAccount)
		if !strings.Contains(acct.body, `id="mfa-setup"`) {
			t.Fatalf("account page: %.400s", acct.body)
		}
		p := b.post(oauth.PathAccount+"/mfa/setup", hidden(acct.body))
		if p.status != http.StatusOK || !strings.Contains(p.body, `action="/account/mfa/confirm"`) {
			t.Fatalf("setup: %d %.300s", p.status, p.body)
		}
		secret := between(p.body, `<code id="secret">`, `</code>`)
		// Not active until confirmed: bob still signs in with the password.
		if r, _ := e.mfa.Status(context.Background(), e.bobID); r == nil || r.Confirmed() {
			t.Fatal("enrolment active before the first code")
		}
		f := hidden(p.body)
		f.Set("otp", e.totpCode(secret))
		res := b.post(oauth.PathAccount+"/mfa/confirm", f)
		if res.status != http.StatusOK || strings.Count(res.body, "<li><code>") != 10 {
			t.Fatalf("confirm: %d %.300s", res.status, res.body)
		}
		acct = b.get(oauth.PathAccount)
		if !strings.Contains(acct.body, `id="mfa-disable"`) {
			t.Fatal("no disable form once enrolled")
		}
		// A stolen session cannot turn it off without a code.
		f = hidden(acct.body)
		f.Set("otp", "")
		if res := b.post(oauth.PathAccount+"/mfa/disable", f); res.status != http.StatusUnauthorized {
			t.Fatalf("disable without a code: %d", res.status)
		}
		e.clock.Add(30 * time.Second)
		f.Set("otp", e.totpCode(secret))
		if res := b.post(oauth.PathAccount+"/mfa/disable", f); res.status != http.StatusSeeOther {
			t.Fatalf("disable: %d", res.status)
		}
		if r, _ := e.mfa.Status(context.Background(), e.bobID); r != nil {
			t.Fatal("still enrolled after disable")
		}
		if len(e.events("mfa.disable")) != 2 || len(e.events("mfa.enroll")) != 1 {
			t.Fatal("mfa.enroll / mfa.disable not audited")
		}
	})
}

func TestMFAPromptLoginIsSatisfiedAfterTheCode(t *testing.T) {
	forEachMFADriver(t, func(t *testing.T, e *mfaEnv) {
		secret, _ := e.enrol(e.userID, userName)
		authURL, _ := e.webAuthURL()
		b := e.browser()
		if res := b.otpStep(b.passwordStep(authURL, userName, userPass), e.totpCode(secret)); res.status != http.StatusSeeOther {
			t.Fatalf("first sign-in: %d", res.status)
		}
		// prompt=login: both steps again, and the proof the second one
		// adds satisfies it (no loop back to the login page).
		e.clock.Add(30 * time.Second)
		again, _ := e.webAuthURL("prompt", "login")
		p := b.passwordStep(again, userName, userPass)
		if p.status != http.StatusOK || !strings.Contains(p.body, `name="otp"`) {
			t.Fatalf("prompt=login password step: %d", p.status)
		}
		res := b.otpStep(p, e.totpCode(secret))
		if res.status != http.StatusSeeOther || !strings.Contains(res.location, oauth.ParamLoginProof) {
			t.Fatalf("prompt=login code step: %d %q", res.status, res.location)
		}
		b.codeFrom(b.get(res.location))
	})
}

// TestOTPLockoutSharedAcrossInstancesOnRedis: two instances on one Redis
// share a user's second-factor budget, so an attacker cannot multiply it
// by spreading codes over the fleet.
func TestOTPLockoutSharedAcrossInstancesOnRedis(t *testing.T) {
	u := os.Getenv("RAMPART_TEST_REDIS_URL")
	if u == "" {
		t.Skip("set RAMPART_TEST_REDIS_URL=redis://127.0.0.1:6379/0 to run the Redis OTP limit test")
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opts)
	t.Cleanup(func() { _ = rc.Close() })
	rl := config.RateLimits{OTPPerUser: config.RateLimit{Rate: 3, Period: config.Duration(15 * time.Minute), Burst: 3}}
	a, err := oauth.NewOTPLimiter(rl, rc, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := oauth.NewOTPLimiter(rl, rc, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 8)
	_, _ = rand.Read(raw)
	user := "otp-test-" + hex.EncodeToString(raw)
	ctx := context.Background()
	for i, l := range []*ratelimit.Limiter{a, b, a} {
		if d, err := l.Allow(ctx, user); err != nil || !d.Allowed {
			t.Fatalf("attempt %d: %+v %v", i+1, d, err)
		}
	}
	if d, err := b.Allow(ctx, user); err != nil || d.Allowed {
		t.Fatalf("fourth attempt on the other instance: %+v %v", d, err)
	}
}
