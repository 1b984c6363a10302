package oauth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/oauth"
)

// signedIn returns a browser signed in through webID and its ID token.
func (e *env) signedIn(t *testing.T) (*browser, string) {
	t.Helper()
	code, verifier, b := e.codeFor(t, webID, "openid")
	st, tok := e.exchange(code, verifier, webID, "")
	mustStatus(t, st, http.StatusOK, "exchange", tok)
	id := str(tok, "id_token")
	if id == "" {
		t.Fatal("no id_token")
	}
	return b, id
}

// mint signs claims with key (typ JWT) as the server would.
func mint(t *testing.T, k keys.ActiveKey, typ string, claims map[string]any) string {
	t.Helper()
	b, _ := json.Marshal(claims)
	tok, err := keys.SignJWS(rand.Reader, k, typ, b)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (e *env) logoutURL(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return oauth.PathEndSession + "?" + v.Encode()
}

func (e *env) postLogoutURI() string {
	return strings.TrimSuffix(e.callback, "/callback") + "/logged-out"
}

func (b *browser) stillSignedIn(t *testing.T) {
	t.Helper()
	if p := b.get(oauth.PathAccount); p.status != http.StatusOK {
		t.Fatalf("the session ended: %d %q", p.status, p.location)
	}
}

// TestRPLogoutWithHint: an ID token of the signed-in user ends the
// session at once and returns to the registered URI with state.
func TestRPLogoutWithHint(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		b, id := e.signedIn(t)
		p := b.get(e.logoutURL("id_token_hint", id, "post_logout_redirect_uri", e.postLogoutURI(), "state", "st-42"))
		if p.status != http.StatusSeeOther || p.location != e.postLogoutURI()+"?state=st-42" {
			t.Fatalf("logout: %d %q %.300s", p.status, p.location, p.body)
		}
		if p := b.get(oauth.PathAccount); p.status != http.StatusSeeOther {
			t.Fatalf("the session survived logout: %d", p.status)
		}
		if ev := e.events(audit.ActionRPLogout); len(ev) != 1 || ev[0].Outcome != audit.OutcomeSuccess || ev[0].Details["client_id"] != webID {
			t.Fatalf("auth.rp_logout events: %+v", ev)
		}
	})
}

// TestRPLogoutExpiredHintAccepted: RP-Initiated Logout §2 — an expired ID
// token we issued still identifies the user and client.
func TestRPLogoutExpiredHintAccepted(t *testing.T) {
	e := newEnv(t, "sqlite")
	b, _ := e.signedIn(t)
	k, err := e.keys.Signer()
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-48 * time.Hour).Unix()
	old := mint(t, k, "JWT", map[string]any{"iss": e.issuer, "sub": e.userID, "aud": webID, "azp": webID, "iat": past, "exp": past + 3600, "auth_time": past})
	p := b.get(e.logoutURL("id_token_hint", old, "post_logout_redirect_uri", e.postLogoutURI()))
	if p.status != http.StatusSeeOther || p.location != e.postLogoutURI() {
		t.Fatalf("expired hint: %d %q", p.status, p.location)
	}
}

// TestRPLogoutForgedHint performs the attacks on id_token_hint: each is
// refused with the error page, no redirect, and the session lives.
func TestRPLogoutForgedHint(t *testing.T) {
	e := newEnv(t, "sqlite")
	b, id := e.signedIn(t)
	k, err := e.keys.Signer()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	good := map[string]any{"iss": e.issuer, "sub": e.userID, "aud": webID, "azp": webID, "iat": now, "exp": now + 3600}
	with := func(kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range good {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	// Another issuer's key, even under our kid.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	foreign := keys.ActiveKey{KID: k.KID, Algorithm: "ES256", Signer: other}
	foreignKID := keys.ActiveKey{KID: "evil-key", Algorithm: "ES256", Signer: other}
	parts := strings.Split(id, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(mustJSON(with("sub", "someone-else"))) + "." + parts[2]
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + base64.RawURLEncoding.EncodeToString(mustJSON(good)) + "."
	for name, hint := range map[string]string{
		"reject/other-key-our-kid":     mint(t, foreign, "JWT", good),
		"reject/other-issuer-key":      mint(t, foreignKID, "JWT", good),
		"reject/our-key-other-issuer":  mint(t, k, "JWT", with("iss", "https://evil.example")),
		"reject/tampered-payload":      tampered,
		"reject/alg-none":              none,
		"reject/access-token-typ":      mint(t, k, "at+jwt", good),
		"reject/access-token-claims":   mint(t, k, "JWT", with("client_id", webID, "aud", []string{e.issuer + oauth.PathUserinfo})),
		"reject/aud-not-azp":           mint(t, k, "JWT", with("azp", appID)),
		"reject/aud-unknown-client":    mint(t, k, "JWT", with("aud", "nobody", "azp", "nobody")),
		"reject/garbage":               "not.a.jwt",
		"reject/client-id-differs-aud": "",
	} {
		t.Run(name, func(t *testing.T) {
			q := []string{"id_token_hint", hint, "post_logout_redirect_uri", e.postLogoutURI(), "state", "s"}
			if hint == "" {
				q = []string{"id_token_hint", id, "client_id", appID, "post_logout_redirect_uri", e.postLogoutURI()}
			}
			p := b.get(e.logoutURL(q...))
			if p.status != http.StatusBadRequest || p.location != "" {
				t.Fatalf("forged hint: %d %q", p.status, p.location)
			}
			b.stillSignedIn(t)
		})
	}
	if ev := e.events(audit.ActionRPLogout); len(ev) == 0 || ev[0].Outcome != audit.OutcomeDenied {
		t.Fatalf("refusals not audited: %+v", ev)
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

// TestRPLogoutOpenRedirect: post_logout_redirect_uri must equal a
// registered one exactly; otherwise the browser is never sent there.
func TestRPLogoutOpenRedirect(t *testing.T) {
	e := newEnv(t, "sqlite")
	b, id := e.signedIn(t)
	reg := e.postLogoutURI()
	for name, q := range map[string][]string{
		"reject/unregistered-host":  {"id_token_hint", id, "post_logout_redirect_uri", "https://evil.example/logged-out"},
		"reject/path-suffix":        {"id_token_hint", id, "post_logout_redirect_uri", reg + "/../../evil"},
		"reject/extra-query":        {"id_token_hint", id, "post_logout_redirect_uri", reg + "?next=https://evil.example"},
		"reject/case-changed":       {"id_token_hint", id, "post_logout_redirect_uri", strings.ToUpper(reg)},
		"reject/other-port":         {"id_token_hint", id, "post_logout_redirect_uri", strings.Replace(reg, "127.0.0.1:", "127.0.0.1:1", 1)},
		"reject/redirect-uri-only":  {"id_token_hint", id, "post_logout_redirect_uri", e.callback}, // the login redirect URI is not a logout one
		"reject/no-client":          {"post_logout_redirect_uri", reg},
		"reject/client-id-no-reg":   {"client_id", appID, "post_logout_redirect_uri", reg},
		"reject/unknown-client":     {"client_id", "nobody", "post_logout_redirect_uri", reg},
		"reject/repeated-parameter": {"post_logout_redirect_uri", reg},
	} {
		t.Run(name, func(t *testing.T) {
			u := e.logoutURL(q...)
			if name == "reject/repeated-parameter" {
				u = oauth.PathEndSession + "?client_id=" + webID + "&post_logout_redirect_uri=" + url.QueryEscape(reg) + "&post_logout_redirect_uri=" + url.QueryEscape("https://evil.example/")
			}
			p := b.get(u)
			if p.status != http.StatusBadRequest || p.location != "" {
				t.Fatalf("open redirect: %d %q", p.status, p.location)
			}
			b.stillSignedIn(t)
		})
	}
}

// TestRPLogoutCSRF: without a hint naming the signed-in user, a logout
// link only shows a confirmation; the confirmation refuses a tokenless or
// cross-site post; a real confirmation ends the session and returns.
func TestRPLogoutCSRF(t *testing.T) {
	e := newEnv(t, "sqlite")
	b, _ := e.signedIn(t)
	// A link on another site (what an <img src> or a top-level navigation
	// to the endpoint does): no logout.
	p := b.get(e.logoutURL("client_id", webID, "post_logout_redirect_uri", e.postLogoutURI(), "state", "abc"))
	if p.status != http.StatusOK || !strings.Contains(p.body, `id="logout"`) {
		t.Fatalf("no confirmation page: %d %q", p.status, p.location)
	}
	b.stillSignedIn(t)
	// An RP's cross-site POST of the same request becomes a GET (which
	// carries the Lax session cookie), and still only shows the page.
	rp := b.post(oauth.PathEndSession, url.Values{"client_id": {webID}, "state": {"x y"}}, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	if rp.status != http.StatusSeeOther || rp.location != oauth.PathEndSession+"?client_id="+webID+"&state=x+y" {
		t.Fatalf("cross-site RP post: %d %q", rp.status, rp.location)
	}
	if p := b.get(rp.location); p.status != http.StatusOK || !strings.Contains(p.body, `id="logout"`) {
		t.Fatalf("RP post, then GET: %d", p.status)
	}
	b.stillSignedIn(t)
	form := hidden(p.body)
	form.Set("decision", "logout")
	noToken := url.Values{"request": {form.Get("request")}, "decision": {"logout"}}
	if p := b.post(oauth.PathEndSessionConfirm, noToken); p.status != http.StatusForbidden {
		t.Fatalf("tokenless confirmation: %d", p.status)
	}
	if p := b.post(oauth.PathEndSessionConfirm, form, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"); p.status != http.StatusForbidden {
		t.Fatalf("cross-site confirmation: %d", p.status)
	}
	b.stillSignedIn(t)
	// A hand-edited request in the confirmation is verified again.
	evil := url.Values{}
	for k, v := range form {
		evil[k] = v
	}
	evil.Set("request", url.Values{"client_id": {webID}, "post_logout_redirect_uri": {"https://evil.example/"}}.Encode())
	if p := b.post(oauth.PathEndSessionConfirm, evil); p.status != http.StatusBadRequest || p.location != "" {
		t.Fatalf("edited confirmation: %d %q", p.status, p.location)
	}
	b.stillSignedIn(t)
	p = b.post(oauth.PathEndSessionConfirm, form)
	if p.status != http.StatusSeeOther || p.location != e.postLogoutURI()+"?state=abc" {
		t.Fatalf("confirmed logout: %d %q", p.status, p.location)
	}
	if p := b.get(oauth.PathAccount); p.status != http.StatusSeeOther {
		t.Fatalf("the session survived a confirmed logout: %d", p.status)
	}
}

// TestRPLogoutOtherUsersHint: a valid ID token of another user does not
// sign this browser's user out without confirmation.
func TestRPLogoutOtherUsersHint(t *testing.T) {
	e := newEnv(t, "sqlite")
	b, _ := e.signedIn(t)
	k, err := e.keys.Signer()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	hint := mint(t, k, "JWT", map[string]any{"iss": e.issuer, "sub": "another-user", "aud": webID, "azp": webID, "iat": now, "exp": now + 60})
	if p := b.get(e.logoutURL("id_token_hint", hint)); p.status != http.StatusOK || !strings.Contains(p.body, `id="logout"`) {
		t.Fatalf("another user's hint: %d %q", p.status, p.location)
	}
	b.stillSignedIn(t)
}

// TestRPLogoutFormPost: an RP's cross-site form POST with the hint ends
// the session too (through the GET it is turned into, which carries the
// SameSite=Lax cookie a cross-site POST does not).
func TestRPLogoutFormPost(t *testing.T) {
	e := newEnv(t, "sqlite")
	b, id := e.signedIn(t)
	p := b.post(oauth.PathEndSession, url.Values{"id_token_hint": {id}, "post_logout_redirect_uri": {e.postLogoutURI()}, "state": {"s1"}},
		"Sec-Fetch-Site", "cross-site", "Origin", "https://app.example")
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, oauth.PathEndSession+"?") {
		t.Fatalf("form post: %d %q", p.status, p.location)
	}
	if p := b.get(p.location); p.status != http.StatusSeeOther || p.location != e.postLogoutURI()+"?state=s1" {
		t.Fatalf("after the post: %d %q", p.status, p.location)
	}
	if p := b.get(oauth.PathAccount); p.status != http.StatusSeeOther {
		t.Fatalf("the session survived: %d", p.status)
	}
}
