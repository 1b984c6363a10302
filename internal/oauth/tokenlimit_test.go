package oauth_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/ratelimit"
)

// from is an HTTP client whose connections leave from a given loopback
// address, so tests can act as different hosts against the real listener.
type from struct {
	e  *env
	hc *http.Client
}

func (e *env) from(ip string) *from {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}
	e.t.Cleanup(tr.CloseIdleConnections)
	return &from{e: e, hc: &http.Client{Transport: tr}}
}

// post sends a form with optional raw HTTP Basic credentials (user:pass
// exactly as given, the way `curl -u` sends them).
func (f *from) post(path string, form url.Values, basicUser, basicPass string) (int, map[string]any, http.Header) {
	f.e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.e.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicUser != "" {
		req.SetBasicAuth(basicUser, basicPass)
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		f.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if b, _ := io.ReadAll(resp.Body); len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			f.e.t.Fatalf("%s answered non-JSON %q", path, b)
		}
	}
	return resp.StatusCode, out, resp.Header
}

// tokenLimiter is a TokenLimiter with the three limits serve builds.
func tokenLimiter(t testing.TB, clientBurst, ipBurst, failBurst int64) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.NewLimiter(ratelimit.NewMemoryStore(nil),
		ratelimit.Limit{Name: oauth.LimitTokenClient, Rate: 1, Period: time.Hour, Burst: clientBurst},
		ratelimit.Limit{Name: oauth.LimitTokenIP, Rate: 1, Period: time.Hour, Burst: ipBurst},
		ratelimit.Limit{Name: oauth.LimitClientAuthFailed, Rate: 1, Period: time.Hour, Burst: failBurst})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func want429(t *testing.T, what string, st int, body map[string]any, h http.Header) {
	t.Helper()
	if st != http.StatusTooManyRequests || str(body, "error") != "too_many_requests" || h.Get("Retry-After") == "" || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("%s: got %d %v %v, want 429 too_many_requests with Retry-After", what, st, body, h)
	}
}

// TestAttackPublicClientTokenBudget: junk requests naming a public
// client's id spend nothing of its budget, not even at the stranger's own
// address: a real user behind the same address (one NAT, one office) still
// redeems a code and refreshes during the flood. Valid requests do spend
// the (client, address) budget: past it that address gets 429, another
// address does not.
func TestAttackPublicClientTokenBudget(t *testing.T) {
	e := newEnvOpts(t, "sqlite", func(o *oauth.Options) { o.TokenLimiter = tokenLimiter(t, 3, 1000, 1000) })
	attacker, sameNAT, elsewhere := e.from("127.0.0.2"), e.from("127.0.0.2"), e.from("127.0.0.3")
	junk := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"junk-refresh-token"}, "client_id": {webID}}
	for i := 0; i < 10; i++ {
		st, body, _ := attacker.post(oauth.PathToken, junk, "", "")
		wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
	}

	redeem := func(f *from) (int, map[string]any) {
		code, v, _ := e.codeFor(t, webID, "openid")
		st, tok, _ := f.post(oauth.PathToken, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.callback},
			"code_verifier": {v}, "client_id": {webID}}, "", "")
		return st, tok
	}
	refresh := func(f *from, rt string) (int, map[string]any, http.Header) {
		return f.post(oauth.PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {webID}}, "", "")
	}
	st, tok := redeem(sameNAT)
	mustStatus(t, st, http.StatusOK, "a real user's code redemption behind the flooding address", tok)
	st, next, _ := refresh(sameNAT, str(tok, "refresh_token"))
	mustStatus(t, st, http.StatusOK, "a real user's refresh behind the flooding address", next)
	st, last, _ := refresh(sameNAT, str(next, "refresh_token"))
	mustStatus(t, st, http.StatusOK, "the third valid request (the budget is 3)", last)

	t.Run("reject/valid-requests-past-the-address-budget", func(t *testing.T) {
		st, body, h := refresh(sameNAT, str(last, "refresh_token"))
		want429(t, "a fourth valid request from the address", st, body, h)
	})
	t.Run("accept/other-address", func(t *testing.T) {
		st, tok := redeem(elsewhere)
		mustStatus(t, st, http.StatusOK, "a user at another address", tok)
	})
	t.Run("accept/junk-still-not-charged", func(t *testing.T) {
		st, body, _ := elsewhere.post(oauth.PathToken, junk, "", "")
		wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
		st, body, _ = elsewhere.post(oauth.PathToken, junk, "", "")
		wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
		st, tok := redeem(elsewhere)
		mustStatus(t, st, http.StatusOK, "the second valid request at the other address after junk", tok)
	})
}

// TestAttackClientSecretGuessing: wrong secrets from one address spend
// that address's failure budget for the client id; then the id is refused
// from there whatever the secret (guessing stops), while the client keeps
// working from its own address.
func TestAttackClientSecretGuessing(t *testing.T) {
	e := newEnvOpts(t, "sqlite", func(o *oauth.Options) { o.TokenLimiter = tokenLimiter(t, 1000, 1000, 3) })
	attacker, owner := e.from("127.0.0.2"), e.from("127.0.0.3")
	cc := url.Values{"grant_type": {"client_credentials"}}
	for i := 0; i < 3; i++ {
		st, body, _ := attacker.post(oauth.PathToken, cc, svcID, "guess-"+itoa64(int64(i))+"-0123456789abcdefghijklmnop")
		wantOAuthError(t, st, body, http.StatusUnauthorized, "invalid_client")
	}
	t.Run("reject/guess-after-budget", func(t *testing.T) {
		st, body, h := attacker.post(oauth.PathToken, cc, svcID, "guess-4-0123456789abcdefghijklmnop")
		want429(t, "fourth guess", st, body, h)
	})
	t.Run("reject/right-secret-from-locked-address", func(t *testing.T) {
		st, body, h := attacker.post(oauth.PathToken, cc, svcID, svcSecret)
		want429(t, "a correct guess after the budget", st, body, h)
		st, body, h = attacker.post(oauth.PathIntrospect, url.Values{"token": {"x"}}, svcID, svcSecret)
		want429(t, "the same lock at introspection", st, body, h)
	})
	t.Run("accept/owner-elsewhere", func(t *testing.T) {
		st, body, _ := owner.post(oauth.PathToken, cc, svcID, svcSecret)
		mustStatus(t, st, http.StatusOK, "the client from its own address", body)
	})
	t.Run("accept/other-client-same-address", func(t *testing.T) {
		st, body, _ := attacker.post(oauth.PathToken, cc, "introspector", otherSecret)
		mustStatus(t, st, http.StatusOK, "another client from the attacker's address", body)
	})
	locked := 0
	for _, ev := range e.events("oauth.token") {
		if ev.Reason == "client_auth_locked" && ev.Target == "client:"+svcID {
			locked++
		}
	}
	if locked != 2 {
		t.Fatalf("%d locked refusals audited, want 2", locked)
	}
}

// TestAttackTokenEndpointFloodPerIP: one address gets a bounded number of
// requests at the token, revocation and introspection endpoints (one
// budget), whatever client ids it names, before any authentication.
func TestAttackTokenEndpointFloodPerIP(t *testing.T) {
	e := newEnvOpts(t, "sqlite", func(o *oauth.Options) { o.TokenLimiter = tokenLimiter(t, 1000, 6, 1000) })
	flood, other := e.from("127.0.0.2"), e.from("127.0.0.3")
	for i, path := range []string{oauth.PathToken, oauth.PathRevoke, oauth.PathIntrospect, oauth.PathToken, oauth.PathRevoke, oauth.PathIntrospect} {
		st, body, _ := flood.post(path, url.Values{"token": {"x"}, "grant_type": {"client_credentials"}}, "random-client-"+itoa64(int64(i)), "s-0123456789abcdefghijklmnopqrstuvwxyz")
		wantOAuthError(t, st, body, http.StatusUnauthorized, "invalid_client")
	}
	for _, path := range []string{oauth.PathToken, oauth.PathRevoke, oauth.PathIntrospect} {
		st, body, h := flood.post(path, url.Values{"token": {"x"}, "grant_type": {"client_credentials"}}, "yet-another", "s-0123456789abcdefghijklmnopqrstuvwxyz")
		want429(t, "reject/flood-"+path, st, body, h)
	}
	st, body, _ := other.post(oauth.PathToken, url.Values{"grant_type": {"client_credentials"}}, svcID, svcSecret)
	mustStatus(t, st, http.StatusOK, "another address", body)
	n := 0
	for _, action := range []string{"oauth.token", "oauth.revoke", "oauth.introspect"} {
		for _, ev := range e.events(action) {
			if ev.Reason == "rate_limited_ip" {
				n++
			}
		}
	}
	if n != 3 {
		t.Fatalf("%d per-address refusals audited, want 3", n)
	}
}
