package oauth_test

import (
	"crypto/rand"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/oauth"
)

// TestBasicCredentialsFormEncoded: HTTP Basic client credentials are
// form-encoded (RFC 6749 §2.3.1). A secret made with `base64` holds '+';
// `curl -u id:secret` sends it raw, the server decodes '+' to a space, and
// the secret does not match. Rampart keeps to the RFC (only the decoded
// form is tried) but says why, to the caller and in the audit reason.
func TestBasicCredentialsFormEncoded(t *testing.T) {
	const id, secret = "b64client", "q1Vb+7kX2m/Yp9Lr0c3Wz8Ht+Fj4Nd6Sa5Ge1Qo7Ui="
	key := []byte("secret key for the test registry")
	c := oauth.ClientFromConfig(config.Client{ID: id, SecretEnv: "S", GrantTypes: []string{"client_credentials"}}, secret, key)
	e := newEnvOpts(t, "sqlite", func(o *oauth.Options) { o.Clients = oauth.NewRegistry([]*oauth.Client{c}, o.Store, key, nil) })
	curl := e.from("127.0.0.1")
	cc := url.Values{"grant_type": {"client_credentials"}}
	t.Run("reject/curl-u-raw-plus", func(t *testing.T) {
		st, body, _ := curl.post(oauth.PathToken, cc, id, secret)
		wantOAuthError(t, st, body, http.StatusUnauthorized, "invalid_client")
		if d := str(body, "error_description"); !strings.Contains(d, "%2B") || !strings.Contains(d, "RFC 6749 §2.3.1") {
			t.Fatalf("the failure is not explained: %q", d)
		}
	})
	t.Run("reject/bare-percent", func(t *testing.T) {
		st, body, _ := curl.post(oauth.PathToken, cc, id, "100%-not-encoded-0123456789abcdefghij")
		wantOAuthError(t, st, body, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("reject/wrong-secret-no-hint", func(t *testing.T) {
		st, body, _ := curl.post(oauth.PathToken, cc, id, "plainly-wrong-0123456789abcdefghijklmn")
		wantOAuthError(t, st, body, http.StatusUnauthorized, "invalid_client")
		if str(body, "error_description") != "client authentication failed" {
			t.Fatalf("a hint without cause: %v", body)
		}
	})
	t.Run("accept/form-encoded-basic", func(t *testing.T) {
		st, body, _ := curl.post(oauth.PathToken, cc, url.QueryEscape(id), url.QueryEscape(secret))
		mustStatus(t, st, http.StatusOK, "encoded Basic", body)
	})
	t.Run("accept/client-secret-post", func(t *testing.T) {
		st, body, _ := curl.post(oauth.PathToken, url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}, "", "")
		mustStatus(t, st, http.StatusOK, "client_secret_post", body)
	})
	reasons := map[string]int{}
	for _, ev := range e.events("oauth.token") {
		if ev.Outcome == "failure" {
			reasons[ev.Reason]++
		}
	}
	if reasons["secret_mismatch_basic_not_form_encoded"] != 1 || reasons["basic_credentials_not_form_encoded"] != 1 || reasons["invalid_client"] != 1 {
		t.Fatalf("audit reasons %v", reasons)
	}
}

// TestGeneratedSecretsNeedNoEncoding: every secret Rampart generates is
// sent unchanged by `curl -u` (no character that form decoding changes).
func TestGeneratedSecretsNeedNoEncoding(t *testing.T) {
	for i := 0; i < 200; i++ {
		s, err := oauth.GenerateSecret(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if url.QueryEscape(s) != s {
			t.Fatalf("generated secret %q needs form encoding", s)
		}
	}
}
