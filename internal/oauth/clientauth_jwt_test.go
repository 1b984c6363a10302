package oauth_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/oauth"
)

// assertionForm is a client_credentials request authenticated by assertion.
func assertionForm(assertion string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "scope": {"reports:read"},
		"client_assertion_type": {oauth.ClientAssertionTypeJWT}, "client_assertion": {assertion}}
}

// TestPrivateKeyJWTWithOAuth2Client: golang.org/x/oauth2's client
// credentials flow, with the assertion in EndpointParams, gets a token for
// a client whose keys are inline, and for one whose keys come from a
// jwks_uri (fetched through jwtauth's JWKS cache).
func TestPrivateKeyJWTWithOAuth2Client(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		for _, id := range []string{signerInline, signerURI} {
			t.Run(id, func(t *testing.T) {
				testAssertKeys()
				scope := "reports:read"
				if id == signerURI {
					scope = "openid"
				}
				cc := clientcredentials.Config{ClientID: id, TokenURL: e.issuer + oauth.PathToken, Scopes: []string{scope},
					AuthStyle: oauth2.AuthStyleInParams,
					EndpointParams: url.Values{"client_assertion_type": {oauth.ClientAssertionTypeJWT},
						"client_assertion": {signAssertion(t, assertKey, "k1", jose.ES256, assertionClaims(id, e.issuer))}}}
				tok, err := cc.Token(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if tok.AccessToken == "" {
					t.Fatal("no access token")
				}
			})
		}
	})
}

// TestPrivateKeyJWTAttacks performs each attack on private_key_jwt and
// asserts a 401 invalid_client, an audited failure and, for the valid
// control, a token.
func TestPrivateKeyJWTAttacks(t *testing.T) {
	e := newEnv(t, "sqlite")
	testAssertKeys()
	pubDER, err := x509.MarshalPKIXPublicKey(&assertKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ok := func(mut func(c map[string]any)) string {
		c := assertionClaims(signerInline, e.issuer)
		if mut != nil {
			mut(c)
		}
		return signAssertion(t, assertKey, "k1", jose.ES256, c)
	}
	replayed := ok(nil)
	if st, body, _ := e.tokenRequest(assertionForm(replayed), "", ""); st != http.StatusOK {
		t.Fatalf("control: a valid assertion: %d %v", st, body)
	}
	now := time.Now()
	cases := []struct {
		name, reason string
		form         url.Values
	}{
		{"reject/jti-replayed", "assertion_jti_replayed", assertionForm(replayed)},
		{"reject/aud-token-endpoint", "assertion_audience", assertionForm(ok(func(c map[string]any) { c["aud"] = e.issuer + oauth.PathToken }))},
		{"reject/aud-issuer-and-other", "assertion_audience", assertionForm(ok(func(c map[string]any) { c["aud"] = []string{e.issuer, "https://evil.example"} }))},
		{"reject/aud-other-server", "assertion_audience", assertionForm(ok(func(c map[string]any) { c["aud"] = "https://evil.example" }))},
		{"reject/exp-beyond-5-minutes", "assertion_exp_too_far", assertionForm(ok(func(c map[string]any) { c["exp"] = now.Add(6 * time.Minute).Unix() }))},
		{"reject/expired", "assertion_expired", assertionForm(ok(func(c map[string]any) { c["exp"] = now.Add(-2 * time.Minute).Unix() }))},
		{"reject/iat-long-before-exp", "assertion_exp_too_far", assertionForm(ok(func(c map[string]any) { c["iat"] = now.Add(-10 * time.Minute).Unix() }))},
		{"reject/no-exp", "assertion_missing_claim", assertionForm(ok(func(c map[string]any) { delete(c, "exp") }))},
		{"reject/no-jti", "assertion_missing_claim", assertionForm(ok(func(c map[string]any) { delete(c, "jti") }))},
		{"reject/iat-in-future", "assertion_issued_in_future", assertionForm(ok(func(c map[string]any) { c["iat"] = now.Add(3 * time.Minute).Unix() }))},
		{"reject/nbf-in-future", "assertion_not_yet_valid", assertionForm(ok(func(c map[string]any) { c["nbf"] = now.Add(3 * time.Minute).Unix() }))},
		{"reject/iss-not-sub", "assertion_sub_not_iss", assertionForm(ok(func(c map[string]any) { c["sub"] = signerURI }))},
		{"reject/key-not-in-jwks", "assertion_bad_signature", assertionForm(signAssertion(t, strangerKey, "k1", jose.ES256, assertionClaims(signerInline, e.issuer)))},
		{"reject/key-not-in-jwks-no-kid", "assertion_bad_signature", assertionForm(signAssertion(t, strangerKey, "", jose.ES256, assertionClaims(signerInline, e.issuer)))},
		{"reject/alg-none", "assertion_alg_not_allowed", assertionForm(unsigned(t, assertionClaims(signerInline, e.issuer)))},
		{"reject/hs256-public-key-as-secret", "assertion_alg_not_allowed", assertionForm(hs256(t, pubDER, assertionClaims(signerInline, e.issuer)))},
		{"reject/hs256-jwk-as-secret", "assertion_alg_not_allowed", assertionForm(hs256(t, assertJWKS(), assertionClaims(signerInline, e.issuer)))},
		{"reject/other-clients-assertion", "assertion_client_id_mismatch", func() url.Values {
			// signer-uri's valid assertion presented with client_id=signer-inline.
			f := assertionForm(signAssertion(t, assertKey, "k1", jose.ES256, assertionClaims(signerURI, e.issuer)))
			f.Set("client_id", signerInline)
			return f
		}()},
		{"reject/secret-client-sends-assertion", "auth_method_mismatch", assertionForm(signAssertion(t, assertKey, "k1", jose.ES256, assertionClaims(svcID, e.issuer)))},
		{"reject/garbage", "assertion_malformed", assertionForm("not.a.jwt")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, body, _ := e.tokenRequest(tc.form, "", "")
			if st != http.StatusUnauthorized || str(body, "error") != oauth.ErrInvalidClient {
				t.Fatalf("status %d %v, want 401 invalid_client", st, body)
			}
		})
	}
	t.Run("reject/private-key-jwt-client-with-secret", func(t *testing.T) {
		for _, f := range []func() (int, map[string]any, http.Header){
			func() (int, map[string]any, http.Header) {
				return e.tokenRequest(url.Values{"grant_type": {"client_credentials"}}, signerInline, "")
			},
			func() (int, map[string]any, http.Header) {
				return e.tokenRequest(url.Values{"grant_type": {"client_credentials"}}, signerInline, "anything-0123456789abcdefghijklmnopqr")
			},
			func() (int, map[string]any, http.Header) {
				return e.tokenRequest(url.Values{"grant_type": {"client_credentials"}, "client_id": {signerInline}, "client_secret": {"x"}}, "", "")
			},
			func() (int, map[string]any, http.Header) {
				return e.tokenRequest(url.Values{"grant_type": {"client_credentials"}, "client_id": {signerInline}}, "", "")
			},
		} {
			if st, body, _ := f(); st != http.StatusUnauthorized || str(body, "error") != oauth.ErrInvalidClient {
				t.Fatalf("status %d %v, want 401 invalid_client", st, body)
			}
		}
	})
	t.Run("reject/assertion-and-basic", func(t *testing.T) {
		st, body, _ := e.tokenRequest(assertionForm(ok(nil)), svcID, svcSecret)
		if st != http.StatusBadRequest || str(body, "error") != oauth.ErrInvalidRequest {
			t.Fatalf("status %d %v, want 400 invalid_request", st, body)
		}
	})
	t.Run("audited-with-reason", func(t *testing.T) {
		// Every refused case left one failure event, in order, naming why.
		var got []string
		for _, ev := range e.events(audit.ActionToken) {
			if ev.Outcome == audit.OutcomeFailure {
				got = append(got, ev.Reason)
			}
		}
		if len(got) < len(cases) {
			t.Fatalf("%d failure events, want at least %d: %v", len(got), len(cases), got)
		}
		for i, tc := range cases {
			if got[i] != tc.reason {
				t.Errorf("%s: audited reason %q, want %q", tc.name, got[i], tc.reason)
			}
		}
	})
}

// TestPrivateKeyJWTFailuresCounted: failed assertions spend the
// client_auth_failed budget of (address, client), so a client whose
// assertions keep failing is locked out (429) from that address even
// with a valid one.
func TestPrivateKeyJWTFailuresCounted(t *testing.T) {
	e := newEnvOpts(t, "sqlite", func(o *oauth.Options) { o.TokenLimiter = tokenLimiter(t, 1000, 1000, 3) })
	testAssertKeys()
	bad := assertionClaims(signerInline, e.issuer)
	bad["aud"] = e.issuer + oauth.PathToken
	for range 3 {
		if st, body, _ := e.tokenRequest(assertionForm(signAssertion(t, assertKey, "k1", jose.ES256, bad)), "", ""); st != http.StatusUnauthorized {
			t.Fatalf("bad assertion: %d %v", st, body)
		}
	}
	good := signAssertion(t, assertKey, "k1", jose.ES256, assertionClaims(signerInline, e.issuer))
	if st, body, _ := e.tokenRequest(assertionForm(good), "", ""); st != http.StatusTooManyRequests {
		t.Fatalf("after 3 failures: %d %v, want 429", st, body)
	}
}

// unsigned is an alg=none JWT of claims.
func unsigned(t *testing.T, claims map[string]any) string {
	t.Helper()
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT","kid":"k1"}`))
	p, _ := json.Marshal(claims)
	return h + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

// hs256 is an HS256 JWT of claims whose secret is key (the key-confusion
// attack: the client's public key used as an HMAC secret).
func hs256(t *testing.T, key []byte, claims map[string]any) string {
	t.Helper()
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT","kid":"k1"}`))
	p, _ := json.Marshal(claims)
	in := h + "." + base64.RawURLEncoding.EncodeToString(p)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// TestRegisteredAuthMethodPinned: a client registered for
// client_secret_basic is refused when it sends the same, right secret in
// the form.
func TestRegisteredAuthMethodPinned(t *testing.T) {
	e := newEnv(t, "sqlite")
	if st, body, _ := e.tokenRequest(url.Values{"grant_type": {"client_credentials"}}, basicOnlyID, svcSecret); st != http.StatusOK {
		t.Fatalf("basic: %d %v", st, body)
	}
	st, body, _ := e.tokenRequest(url.Values{"grant_type": {"client_credentials"}, "client_id": {basicOnlyID}, "client_secret": {svcSecret}}, "", "")
	if st != http.StatusUnauthorized || str(body, "error") != oauth.ErrInvalidClient {
		t.Fatalf("post to a basic-only client: %d %v, want 401 invalid_client", st, body)
	}
}

// TestPARWithPrivateKeyJWT: the PAR endpoint authenticates a
// private_key_jwt client as the token endpoint does, and refuses a
// replayed assertion there too.
func TestPARWithPrivateKeyJWT(t *testing.T) {
	e := newEnv(t, "sqlite")
	testAssertKeys()
	_, challenge := pkce()
	assertion := signAssertion(t, assertKey, "k1", jose.ES256, assertionClaims(signerURI, e.issuer))
	form := url.Values{"response_type": {"code"}, "redirect_uri": {e.callback}, "scope": {"openid"}, "code_challenge": {challenge},
		"code_challenge_method": {"S256"}, "client_assertion_type": {oauth.ClientAssertionTypeJWT}, "client_assertion": {assertion}}
	st, body, _ := e.postJSON(oauth.PathPAR, form, "", "")
	if st != http.StatusCreated || !strings.HasPrefix(str(body, "request_uri"), oauth.RequestURIPrefix) {
		t.Fatalf("push with an assertion: %d %v", st, body)
	}
	if st, body, _ := e.postJSON(oauth.PathPAR, form, "", ""); st != http.StatusUnauthorized {
		t.Fatalf("push with a replayed assertion: %d %v", st, body)
	}
}

// TestPrivateKeyJWTKeysUnavailable: when a client's jwks_uri fails, its
// assertions are refused (fail closed) with 503, audited, and do not spend
// its failure budget: after more attempts than the budget, it is still
// 503, never 429.
func TestPrivateKeyJWTKeysUnavailable(t *testing.T) {
	e := newEnvOpts(t, "sqlite", func(o *oauth.Options) { o.TokenLimiter = tokenLimiter(t, 1000, 1000, 2) })
	testAssertKeys()
	for range 4 {
		st, body, _ := e.tokenRequest(assertionForm(signAssertion(t, assertKey, "k1", jose.ES256, assertionClaims(signerDown, e.issuer))), "", "")
		if st != http.StatusServiceUnavailable || str(body, "error") != "temporarily_unavailable" {
			t.Fatalf("keys down: %d %v, want 503", st, body)
		}
	}
	found := false
	for _, ev := range e.events(audit.ActionToken) {
		found = found || ev.Reason == "assertion_keys_unavailable"
	}
	if !found {
		t.Error("no audited assertion_keys_unavailable")
	}
}
