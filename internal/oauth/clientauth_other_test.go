package oauth_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/oauth"
)

// TestAuthenticateBasicClient: another endpoint (the CA's enrolment)
// authenticates clients through the token endpoint's path: the right
// secret passes, everything else is refused, and the failure budget of an
// address is one budget with the token endpoint's (guessing at one does
// not get a fresh budget at the other).
func TestAuthenticateBasicClient(t *testing.T) {
	e := newEnvOpts(t, "sqlite", func(o *oauth.Options) { o.TokenLimiter = tokenLimiter(t, 1000, 1000, 3) })
	req := func(addr, user, pass string, basic bool) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/ca/v1/svid", nil)
		r.RemoteAddr = addr + ":40000"
		if basic {
			r.SetBasicAuth(user, pass)
		}
		return r
	}
	status := func(err error) int {
		var ce *oauth.ClientAuthError
		if !errors.As(err, &ce) {
			t.Fatalf("error %v is not a ClientAuthError", err)
		}
		return ce.Status
	}
	t.Run("accept/right-secret", func(t *testing.T) {
		id, err := e.as.AuthenticateBasicClient(req("127.0.0.9", svcID, svcSecret, true), audit.ActionCASVIDIssue)
		if err != nil || id != svcID {
			t.Fatalf("got %q, %v", id, err)
		}
	})
	t.Run("accept/form-encoded-id", func(t *testing.T) {
		id, err := e.as.AuthenticateBasicClient(req("127.0.0.9", url.QueryEscape(svcID), svcSecret, true), audit.ActionCASVIDIssue)
		if err != nil || id != svcID {
			t.Fatalf("got %q, %v", id, err)
		}
	})
	for _, tc := range []struct {
		name, user, pass string
		basic            bool
	}{
		{"reject/no-basic", "", "", false},
		{"reject/wrong-secret", svcID, "wrong-0123456789abcdefghijklmnopqrstuv", true},
		{"reject/unknown-client", "nobody", svcSecret, true},
		{"reject/public-client-with-secret", webID, "anything-0123456789abcdefghijklmnop", true},
		{"reject/not-form-encoded", svcID, "100%-0123456789abcdefghijklmnopqrstuv", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.as.AuthenticateBasicClient(req("127.0.0.10", tc.user, tc.pass, tc.basic), audit.ActionCASVIDIssue); status(err) != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", status(err))
			}
		})
	}
	t.Run("reject/budget-shared-with-token-endpoint", func(t *testing.T) {
		attacker := e.from("127.0.0.2")
		cc := url.Values{"grant_type": {"client_credentials"}}
		for i := 0; i < 3; i++ {
			st, body, _ := attacker.post(oauth.PathToken, cc, svcID, "guess-"+itoa64(int64(i))+"-0123456789abcdefghijklmnop")
			wantOAuthError(t, st, body, http.StatusUnauthorized, "invalid_client")
		}
		_, err := e.as.AuthenticateBasicClient(req("127.0.0.2", svcID, svcSecret, true), audit.ActionCASVIDIssue)
		var ce *oauth.ClientAuthError
		if !errors.As(err, &ce) || ce.Status != http.StatusTooManyRequests || ce.RetryAfter <= 0 {
			t.Fatalf("the right secret after the token endpoint's budget: %v", err)
		}
	})
	t.Run("reject/budget-spent-here-holds-at-token-endpoint", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			_, _ = e.as.AuthenticateBasicClient(req("127.0.0.4", svcID, "guess-"+itoa64(int64(i))+"-0123456789abcdefghijklmnop", true), audit.ActionCASVIDIssue)
		}
		st, body, h := e.from("127.0.0.4").post(oauth.PathToken, url.Values{"grant_type": {"client_credentials"}}, svcID, svcSecret)
		want429(t, "the token endpoint after guesses at the other endpoint", st, body, h)
	})
	failures := 0
	for _, ev := range e.events(audit.ActionCASVIDIssue) {
		if ev.Outcome == audit.OutcomeFailure {
			failures++
		}
	}
	if failures < 5 {
		t.Fatalf("%d failed authentications audited under %s, want at least 5", failures, audit.ActionCASVIDIssue)
	}
}
