package oauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/rampart-auth/rampart/internal/oauth"
)

// TestAttackAccessTokenAsIDToken performs RFC 8725 §3.12 cross-JWT
// confusion with the library docs/oauth.md recommends: the access token of
// a client without a configured audience, handed to go-oidc's ID token
// verifier for that client, must be rejected (its aud once defaulted to
// the client id, exactly like the ID token's). The ID token still passes,
// and the access token still works where it is meant to (userinfo,
// revocation, a resource server's introspection).
func TestAttackAccessTokenAsIDToken(t *testing.T) {
	e := newEnv(t, "sqlite")
	ctx := oidc.InsecureIssuerURLContext(context.Background(), e.issuer)
	provider, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	idVerifier := provider.Verifier(&oidc.Config{ClientID: otherID})

	code, v := e.consentedCode(t, otherID, "openid")
	st, tok := e.exchange(code, v, otherID, otherSecret)
	mustStatus(t, st, http.StatusOK, "code exchange", tok)
	_, cc, _ := e.tokenRequest(url.Values{"grant_type": {"client_credentials"}}, otherID, otherSecret)

	for name, at := range map[string]string{
		"reject/authorization-code-access-token": str(tok, "access_token"),
		"reject/client-credentials-access-token": str(cc, "access_token"),
	} {
		t.Run(name, func(t *testing.T) {
			if at == "" {
				t.Fatal("no access token")
			}
			if _, err := idVerifier.Verify(ctx, at); err == nil {
				t.Fatal("go-oidc accepted an access token as the client's ID token")
			}
			claims := decodeClaims(t, at)
			aud, _ := claims["aud"].([]any)
			if len(aud) != 1 || aud[0] != e.issuer+oauth.PathUserinfo {
				t.Fatalf("default access token audience %v, want [%s]", claims["aud"], e.issuer+oauth.PathUserinfo)
			}
		})
	}
	t.Run("accept/id-token", func(t *testing.T) {
		if _, err := idVerifier.Verify(ctx, str(tok, "id_token")); err != nil {
			t.Fatalf("the ID token no longer verifies: %v", err)
		}
	})
	t.Run("accept/userinfo-introspection-revocation", func(t *testing.T) {
		at := str(tok, "access_token")
		if st := e.userinfoStatus(at); st != http.StatusOK {
			t.Fatalf("userinfo: %d", st)
		}
		if body := e.introspect(at); body["active"] != true {
			t.Fatalf("resource server introspection: %v", body)
		}
		st, _, _ := e.postJSON(oauth.PathRevoke, url.Values{"token": {at}}, otherID, otherSecret)
		mustStatus(t, st, http.StatusOK, "revoke", nil)
		if body := e.introspect(at); body["active"] != false {
			t.Fatalf("revoked token still active: %v", body)
		}
	})
	t.Run("reject/refreshed-access-token", func(t *testing.T) {
		// A client without audience that refreshes: the new access token
		// carries the default audience too.
		code, vv := e.consentedCode(t, appID, "openid")
		st, first := e.exchange(code, vv, appID, appSecret)
		mustStatus(t, st, http.StatusOK, "exchange", first)
		st, next, _ := e.tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(first, "refresh_token")}}, appID, appSecret)
		mustStatus(t, st, http.StatusOK, "refresh", next)
		v := provider.Verifier(&oidc.Config{ClientID: appID})
		for _, at := range []string{str(first, "access_token"), str(next, "access_token")} {
			if _, err := v.Verify(ctx, at); err == nil {
				t.Fatal("go-oidc accepted a refreshed access token as an ID token")
			}
		}
		if got := firstAud(t, str(next, "access_token")); got != e.issuer+oauth.PathUserinfo {
			t.Fatalf("refreshed token audience %q", got)
		}
	})
}

func firstAud(t *testing.T, tok string) string {
	aud, _ := decodeClaims(t, tok)["aud"].([]any)
	if len(aud) == 0 {
		return ""
	}
	s, _ := aud[0].(string)
	return s
}

// decodeClaims returns a JWT's payload, unverified.
func decodeClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
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

// consentedCode signs in for clientID, allows the consent page when one
// comes, and returns the code and its PKCE verifier.
func (e *env) consentedCode(t *testing.T, clientID, scope string) (string, string) {
	t.Helper()
	b := e.browser()
	v, ch := pkce()
	p := b.login(e.authorizeURL(clientID, e.callback, scope, "st", ch), userName, userPass)
	if p.status == http.StatusOK {
		form := hidden(p.body)
		form.Set("decision", "allow")
		p = b.post(oauth.PathConsent, form)
	}
	return b.codeFrom(p).Get("code"), v
}
