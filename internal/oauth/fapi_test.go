package oauth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/oauth"
)

// fapi test clients: fapiID follows the FAPI 2.0 profile (private_key_jwt
// implied, inline keys); fapiSecretID is a fapi2 client that also holds a
// secret, which validation would refuse: it shows that the runtime never
// takes a secret from a fapi2 client whatever its registration says.
const (
	fapiID       = "fapi-bank"
	fapiSecretID = "fapi-with-secret"
	fapiRSAID    = "fapi-rsa" // one RSA key registered twice: kid rs (RS256) and ps (PS256)
)

var (
	fapiRSAOnce sync.Once
	fapiRSAKey  *rsa.PrivateKey
)

func fapiRSA() *rsa.PrivateKey {
	fapiRSAOnce.Do(func() {
		var err error
		if fapiRSAKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return fapiRSAKey
}

// fapiRSAJWKS registers fapiRSA's public key for RS256 and for PS256.
func fapiRSAJWKS() []byte {
	pub := &fapiRSA().PublicKey
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: "rs", Algorithm: "RS256", Use: "sig"}, {Key: pub, KeyID: "ps", Algorithm: "PS256", Use: "sig"}}})
	if err != nil {
		panic(err)
	}
	return b
}

// rsaProof is a DPoP proof signed by fapiRSA with alg.
func rsaProof(t *testing.T, alg jose.SignatureAlgorithm, htu string) string {
	t.Helper()
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	payload, _ := json.Marshal(map[string]any{"jti": hex.EncodeToString(b), "htm": "POST", "htu": htu, "iat": time.Now().Unix()})
	opts := (&jose.SignerOptions{ExtraHeaders: map[jose.HeaderKey]any{"jwk": jose.JSONWebKey{Key: &fapiRSA().PublicKey}}}).WithType("dpop+jwt")
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: fapiRSA()}, opts)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := sig.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

func fapiClients(e *env) []config.Client {
	return []config.Client{
		{ID: fapiID, Profile: config.ProfileFAPI2, JWKS: assertJWKS(), GrantTypes: []string{"authorization_code", "refresh_token"},
			RedirectURIs: []string{e.callback}, Scopes: []string{"openid", "notes:read"}, SkipConsent: true},
		{ID: fapiSecretID, Profile: config.ProfileFAPI2, SecretEnv: "PAR", GrantTypes: []string{"authorization_code", "refresh_token"},
			RedirectURIs: []string{e.callback}, Scopes: []string{"openid"}, SkipConsent: true},
		// Validation refuses an inline RS256 key for fapi2 (§5.4.1); keys
		// from a jwks_uri are only seen at run time, which this stands for.
		{ID: fapiRSAID, Profile: config.ProfileFAPI2, JWKS: fapiRSAJWKS(), GrantTypes: []string{"authorization_code"},
			RedirectURIs: []string{e.callback}, Scopes: []string{"openid"}, SkipConsent: true},
	}
}

// fapiAuth is private_key_jwt client authentication of fapiID with a
// fresh assertion, added to form.
func fapiAuth(t testing.TB, e *env, form url.Values, now time.Time) url.Values {
	testAssertKeys()
	claims := assertionClaims(fapiID, e.issuer)
	claims["iat"], claims["exp"] = now.Unix(), now.Add(2*time.Minute).Unix()
	out := url.Values{}
	for k, v := range form {
		out[k] = v
	}
	out.Set("client_assertion_type", oauth.ClientAssertionTypeJWT)
	out.Set("client_assertion", signAssertion(t, assertKey, "k1", jose.ES256, claims))
	return out
}

// fapiRequest is the authorization request golang.org/x/oauth2 builds for
// fapiID (the query of its AuthCodeURL, with PKCE S256).
func fapiRequest(t *testing.T, e *env, verifier string, opts ...oauth2.AuthCodeOption) (*oauth2.Config, url.Values) {
	conf := &oauth2.Config{ClientID: fapiID, RedirectURL: e.callback, Scopes: []string{"openid", "notes:read"},
		Endpoint: oauth2.Endpoint{AuthURL: e.issuer + oauth.PathAuthorize, TokenURL: e.issuer + oauth.PathToken, AuthStyle: oauth2.AuthStyleInParams}}
	u, err := url.Parse(conf.AuthCodeURL("state-fapi", append(opts, oauth2.S256ChallengeOption(verifier))...))
	if err != nil {
		t.Fatal(err)
	}
	return conf, u.Query()
}

// post sends form to path with the given DPoP headers.
func (e *env) dpopPost(path string, form url.Values, proofs ...string) (int, map[string]any) {
	e.t.Helper()
	st, body, _ := e.postJSONWith(path, form, func(r *http.Request) {
		for _, p := range proofs {
			r.Header.Add("DPoP", p)
		}
	})
	return st, body
}

// postJSONWith posts a form, letting edit change the request.
func (e *env) postJSONWith(path string, form url.Values, edit func(*http.Request)) (int, map[string]any, http.Header) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	edit(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out, resp.Header
}

// fapiCode pushes the request params for fapiID (with a DPoP proof of k
// when k is set), signs in at the authorization endpoint with the
// request_uri only, and returns the callback's query.
func (e *env) fapiCode(t *testing.T, params url.Values, k *dpopKey, now time.Time) url.Values {
	t.Helper()
	var proofs []string
	if k != nil {
		proofs = append(proofs, k.proof("POST", e.issuer+oauth.PathPAR, proofOpts{iat: now}))
	}
	st, body := e.dpopPost(oauth.PathPAR, fapiAuth(t, e, params, now), proofs...)
	if st != http.StatusCreated {
		t.Fatalf("push: %d %v", st, body)
	}
	b := e.browser()
	return b.codeFrom(b.login(e.parAuthorizeURL(fapiID, str(body, "request_uri")), userName, userPass))
}

// dpopTransport adds a fresh DPoP proof of its key to every request, as a
// DPoP client library does.
type dpopTransport struct {
	k   *dpopKey
	now func() time.Time
}

func (d dpopTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("DPoP", d.k.proof(r.Method, r.URL.String(), proofOpts{iat: d.now()}))
	return http.DefaultTransport.RoundTrip(r)
}

// TestFAPIFlowWithOAuth2Client: the FAPI 2.0 flow end to end with
// golang.org/x/oauth2: PAR authenticated with private_key_jwt and carrying
// a DPoP proof (the code is bound to its key), sign-in with the
// request_uri only, the response carries iss (RFC 9207), the code is
// exchanged by the library through a DPoP transport for DPoP-bound tokens,
// and the refresh token is not rotated: it works twice, the responses
// carry no new refresh token, and each access token is bound to the key.
func TestFAPIFlowWithOAuth2Client(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		k := newDPoPKey(t)
		verifier := oauth2.GenerateVerifier()
		conf, params := fapiRequest(t, e, verifier)
		q := e.fapiCode(t, params, k, time.Now())
		if q.Get("code") == "" || q.Get("state") != "state-fapi" || q.Get("iss") != e.issuer {
			t.Fatalf("callback %v: want code, state and iss (RFC 9207)", q)
		}
		ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: dpopTransport{k: k, now: time.Now}})
		assertion := fapiAuth(t, e, url.Values{}, time.Now())
		tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier),
			oauth2.SetAuthURLParam("client_assertion_type", assertion.Get("client_assertion_type")),
			oauth2.SetAuthURLParam("client_assertion", assertion.Get("client_assertion")))
		if err != nil {
			t.Fatal(err)
		}
		if tok.Type() != "DPoP" || cnfJKT(t, tok.AccessToken) != k.jkt || tok.RefreshToken == "" {
			t.Fatalf("token type %q, cnf.jkt %q (want %q), refresh %q", tok.Type(), cnfJKT(t, tok.AccessToken), k.jkt, tok.RefreshToken)
		}
		refresh := func() (int, map[string]any) {
			form := fapiAuth(t, e, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, time.Now())
			return e.dpopPost(oauth.PathToken, form, k.proof("POST", e.issuer+oauth.PathToken, proofOpts{}))
		}
		seen := map[string]bool{tok.AccessToken: true}
		for i := range 2 {
			st, body := refresh()
			mustStatus(t, st, http.StatusOK, "refresh without rotation", body)
			at := str(body, "access_token")
			if _, rotated := body["refresh_token"]; rotated || at == "" || seen[at] || cnfJKT(t, at) != k.jkt || str(body, "token_type") != "DPoP" {
				t.Fatalf("refresh %d: %v; want a new DPoP-bound access token and no refresh_token", i, body)
			}
			seen[at] = true
		}
		// The refresh token is still sender-constrained through the
		// client: without a DPoP proof it is refused (require DPoP).
		form := fapiAuth(t, e, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, time.Now())
		st, body := e.dpopPost(oauth.PathToken, form)
		wantOAuthError(t, st, body, http.StatusBadRequest, oauth.ErrInvalidDPoPProof)
		if ev := e.events("oauth.refresh_reuse"); len(ev) != 0 {
			t.Fatalf("a kept refresh token was taken for a replay: %+v", ev)
		}
		kept := 0
		for _, ev := range e.events(audit.ActionRefresh) {
			if ev.Outcome == audit.OutcomeSuccess && ev.Details["rotated"] == "false" {
				kept++
			}
		}
		if kept != 2 {
			t.Errorf("%d audited refreshes without rotation, want 2", kept)
		}
	})
}

// TestFAPIRefreshRotationUnchangedForOthers: a client without the
// profile still rotates its refresh token, and presenting the rotated one
// again is taken for theft (the family is revoked).
func TestFAPIRefreshRotationUnchangedForOthers(t *testing.T) {
	e := newEnv(t, "sqlite")
	code, v, _ := e.codeFor(t, webID, "openid")
	st, first := e.exchange(code, v, webID, "")
	mustStatus(t, st, http.StatusOK, "exchange", first)
	refresh := func(rt string) (int, map[string]any) {
		st, body, _ := e.tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {webID}}, "", "")
		return st, body
	}
	st, second := refresh(str(first, "refresh_token"))
	mustStatus(t, st, http.StatusOK, "refresh", second)
	if rt := str(second, "refresh_token"); rt == "" || rt == str(first, "refresh_token") {
		t.Fatalf("not rotated: %v", second)
	}
	st, body := refresh(str(first, "refresh_token"))
	wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
	st, body = refresh(str(second, "refresh_token"))
	wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
	if ev := e.events("oauth.refresh_reuse"); len(ev) != 1 {
		t.Fatalf("reuse events %+v", ev)
	}
}

// TestFAPIKeptRefreshRevoked: a kept refresh token dies with its family:
// once the client revokes it (RFC 7009), the next refresh is refused.
func TestFAPIKeptRefreshRevoked(t *testing.T) {
	e := newEnv(t, "sqlite")
	k := newDPoPKey(t)
	verifier := oauth2.GenerateVerifier()
	_, params := fapiRequest(t, e, verifier)
	q := e.fapiCode(t, params, k, time.Now())
	form := fapiAuth(t, e, url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {e.callback}, "code_verifier": {verifier}}, time.Now())
	st, tok := e.dpopPost(oauth.PathToken, form, k.proof("POST", e.issuer+oauth.PathToken, proofOpts{}))
	mustStatus(t, st, http.StatusOK, "exchange", tok)
	st, body := e.dpopPost(oauth.PathRevoke, fapiAuth(t, e, url.Values{"token": {str(tok, "refresh_token")}}, time.Now()))
	mustStatus(t, st, http.StatusOK, "revoke", body)
	form = fapiAuth(t, e, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(tok, "refresh_token")}}, time.Now())
	st, body = e.dpopPost(oauth.PathToken, form, k.proof("POST", e.issuer+oauth.PathToken, proofOpts{}))
	wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
}

// TestFAPIRefusals: what the profile refuses at run time, each an attack
// on a fapi2 client that must fail.
func TestFAPIRefusals(t *testing.T) {
	clock := &fakeNow{t: time.Now()}
	e := newEnvOpts(t, "sqlite", func(o *oauth.Options) { o.Now = clock.now })
	tokenForm := func(code, verifier string) url.Values {
		return fapiAuth(t, e, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.callback}, "code_verifier": {verifier}}, clock.now())
	}
	tokenProof := func(k *dpopKey) string { return k.proof("POST", e.issuer+oauth.PathToken, proofOpts{iat: clock.now()}) }

	t.Run("reject/plain-authorization-request", func(t *testing.T) {
		_, ch := pkce()
		q := e.browser().codeFrom(e.browser().get(e.authorizeURL(fapiID, e.callback, "openid", "s", ch)))
		if q.Get("error") != "invalid_request" || !strings.Contains(q.Get("error_description"), "pushed") || q.Get("code") != "" {
			t.Fatalf("plain request of a fapi2 client: %v", q)
		}
	})
	t.Run("reject/token-without-dpop", func(t *testing.T) {
		k := newDPoPKey(t)
		v := oauth2.GenerateVerifier()
		_, params := fapiRequest(t, e, v)
		q := e.fapiCode(t, params, k, clock.now())
		st, body := e.dpopPost(oauth.PathToken, tokenForm(q.Get("code"), v))
		wantOAuthError(t, st, body, http.StatusBadRequest, oauth.ErrInvalidDPoPProof)
		// Refused before the grant: the code is still good with the key.
		st, body = e.dpopPost(oauth.PathToken, tokenForm(q.Get("code"), v), tokenProof(k))
		mustStatus(t, st, http.StatusOK, "the same code with a proof", body)
	})
	t.Run("reject/client-secret", func(t *testing.T) {
		// At PAR and at the token endpoint, with the right secret, in
		// Basic and in the form: a fapi2 client has private_key_jwt only.
		_, ch := pkce()
		form := url.Values{"response_type": {"code"}, "redirect_uri": {e.callback}, "scope": {"openid"}, "code_challenge": {ch}, "code_challenge_method": {"S256"}}
		st, body, _ := e.postJSON(oauth.PathPAR, form, fapiSecretID, parSecret)
		wantOAuthError(t, st, body, http.StatusUnauthorized, oauth.ErrInvalidClient)
		post := url.Values{"client_id": {fapiSecretID}, "client_secret": {parSecret}}
		for k, v := range form {
			post[k] = v
		}
		st, body, _ = e.postJSON(oauth.PathPAR, post, "", "")
		wantOAuthError(t, st, body, http.StatusUnauthorized, oauth.ErrInvalidClient)
		st, body, _ = e.tokenRequest(url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {e.callback}, "code_verifier": {"y"}}, fapiSecretID, parSecret)
		wantOAuthError(t, st, body, http.StatusUnauthorized, oauth.ErrInvalidClient)
	})
	t.Run("reject/code-older-than-60s", func(t *testing.T) {
		if oauth.CodeTTL > 60*time.Second {
			t.Fatalf("CodeTTL %v: FAPI 2.0 SP §5.3.2.2 allows at most 60 s", oauth.CodeTTL)
		}
		k := newDPoPKey(t)
		v := oauth2.GenerateVerifier()
		_, params := fapiRequest(t, e, v)
		q := e.fapiCode(t, params, k, clock.now())
		clock.add(oauth.CodeTTL + time.Second)
		st, body := e.dpopPost(oauth.PathToken, tokenForm(q.Get("code"), v), tokenProof(k))
		wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("reject/redeemed-with-another-key", func(t *testing.T) {
		a, b := newDPoPKey(t), newDPoPKey(t)
		v := oauth2.GenerateVerifier()
		_, params := fapiRequest(t, e, v)
		q := e.fapiCode(t, params, a, clock.now())
		st, body := e.dpopPost(oauth.PathToken, tokenForm(q.Get("code"), v), tokenProof(b))
		wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
		// The attempt spent the code: the key holder cannot use it either.
		st, body = e.dpopPost(oauth.PathToken, tokenForm(q.Get("code"), v), tokenProof(a))
		wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("accept/dpop-jkt-only", func(t *testing.T) {
		// dpop_jkt without a proof binds the code as well (RFC 9449 §10).
		a, b := newDPoPKey(t), newDPoPKey(t)
		v := oauth2.GenerateVerifier()
		_, params := fapiRequest(t, e, v, oauth2.SetAuthURLParam("dpop_jkt", a.jkt))
		q := e.fapiCode(t, params, nil, clock.now())
		st, body := e.dpopPost(oauth.PathToken, tokenForm(q.Get("code"), v), tokenProof(b))
		wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
	})
	push := func(params url.Values, proofs ...string) (int, map[string]any) {
		return e.dpopPost(oauth.PathPAR, fapiAuth(t, e, params, clock.now()), proofs...)
	}
	parProof := func(k *dpopKey, o proofOpts) string {
		if o.iat.IsZero() {
			o.iat = clock.now()
		}
		return k.proof("POST", e.issuer+oauth.PathPAR, o)
	}
	t.Run("reject/par-jkt-proof-mismatch", func(t *testing.T) {
		a, b := newDPoPKey(t), newDPoPKey(t)
		_, params := fapiRequest(t, e, oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("dpop_jkt", b.jkt))
		st, body := push(params, parProof(a, proofOpts{}))
		wantOAuthError(t, st, body, http.StatusBadRequest, oauth.ErrInvalidDPoPProof)
	})
	t.Run("reject/par-without-key", func(t *testing.T) {
		_, params := fapiRequest(t, e, oauth2.GenerateVerifier())
		st, body := push(params)
		wantOAuthError(t, st, body, http.StatusBadRequest, oauth.ErrInvalidRequest)
	})
	t.Run("reject/par-bad-proofs", func(t *testing.T) {
		k := newDPoPKey(t)
		_, params := fapiRequest(t, e, oauth2.GenerateVerifier())
		// A proof made for the token endpoint, a replayed proof, a stale
		// one and two proofs: all invalid_dpop_proof.
		st, body := push(params, k.proof("POST", e.issuer+oauth.PathToken, proofOpts{iat: clock.now()}))
		wantOAuthError(t, st, body, http.StatusBadRequest, oauth.ErrInvalidDPoPProof)
		p := parProof(k, proofOpts{})
		st, body = push(params, p)
		mustStatus(t, st, http.StatusCreated, "first use of the proof", body)
		st, body = push(params, p)
		wantOAuthError(t, st, body, http.StatusBadRequest, oauth.ErrInvalidDPoPProof)
		st, body = push(params, parProof(k, proofOpts{iat: clock.now().Add(-10 * time.Minute)}))
		wantOAuthError(t, st, body, http.StatusBadRequest, oauth.ErrInvalidDPoPProof)
		st, body = push(params, parProof(k, proofOpts{}), parProof(k, proofOpts{}))
		wantOAuthError(t, st, body, http.StatusBadRequest, oauth.ErrInvalidDPoPProof)
	})
	t.Run("reject/par-without-redirect-uri", func(t *testing.T) {
		// FAPI 2.0 SP §5.3.2.2: the pushed request must name redirect_uri.
		_, params := fapiRequest(t, e, oauth2.GenerateVerifier())
		params.Del("redirect_uri")
		st, body := push(params, parProof(newDPoPKey(t), proofOpts{}))
		wantOAuthError(t, st, body, http.StatusBadRequest, oauth.ErrInvalidRequest)
	})
	t.Run("reject/par-without-pkce-s256", func(t *testing.T) {
		for _, edit := range []func(url.Values){
			func(p url.Values) { p.Del("code_challenge"); p.Del("code_challenge_method") },
			func(p url.Values) { p.Set("code_challenge_method", "plain") },
		} {
			_, params := fapiRequest(t, e, oauth2.GenerateVerifier())
			edit(params)
			st, body := push(params, parProof(newDPoPKey(t), proofOpts{}))
			if st != http.StatusBadRequest || str(body, "error") == "" {
				t.Fatalf("push without S256: %d %v", st, body)
			}
		}
	})
}

// TestFAPIPARProofForOtherClients: a client without the profile may push
// with a DPoP proof too (RFC 9449 §10.1), which binds its code (a proof of
// another key cannot redeem it); without a proof or dpop_jkt its push is
// accepted as before.
func TestFAPIPARProofForOtherClients(t *testing.T) {
	e := newEnv(t, "sqlite")
	k, other := newDPoPKey(t), newDPoPKey(t)
	v, ch := pkce()
	form := url.Values{"response_type": {"code"}, "client_id": {parID}, "redirect_uri": {e.callback}, "scope": {"openid"},
		"code_challenge": {ch}, "code_challenge_method": {"S256"}}
	st, body, _ := e.postJSONWith(oauth.PathPAR, form, func(r *http.Request) {
		r.SetBasicAuth(parID, parSecret)
		r.Header.Set("DPoP", k.proof("POST", e.issuer+oauth.PathPAR, proofOpts{}))
	})
	mustStatus(t, st, http.StatusCreated, "push with a proof", body)
	b := e.browser()
	q := b.codeFrom(b.login(e.parAuthorizeURL(parID, str(body, "request_uri")), userName, userPass))
	tf := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {e.callback}, "code_verifier": {v}}
	st, body, _ = e.dpopToken(tf, parID, parSecret, other.proof("POST", e.issuer+oauth.PathToken, proofOpts{}))
	wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
	st, body, _ = e.postJSON(oauth.PathPAR, form, parID, parSecret)
	mustStatus(t, st, http.StatusCreated, "push without a proof", body)
}

// TestFAPIAlgorithms: a fapi2 client's assertions and DPoP proofs use
// PS256, ES256 or EdDSA only (FAPI 2.0 SP §5.4.1): with the same RSA key
// registered for both, a PS256 assertion authenticates and an RS256 one
// does not; an RS256 DPoP proof is refused for the fapi2 client, a PS256
// one accepted, and an RS256 proof still works for a client without the
// profile.
func TestFAPIAlgorithms(t *testing.T) {
	e := newEnv(t, "sqlite")
	_, ch := pkce()
	params := url.Values{"response_type": {"code"}, "redirect_uri": {e.callback}, "scope": {"openid"}, "code_challenge": {ch}, "code_challenge_method": {"S256"}}
	assert := func(kid string, alg jose.SignatureAlgorithm) url.Values {
		out := url.Values{"client_assertion_type": {oauth.ClientAssertionTypeJWT},
			"client_assertion": {signAssertion(t, fapiRSA(), kid, alg, assertionClaims(fapiRSAID, e.issuer))}}
		for k, v := range params {
			out[k] = v
		}
		return out
	}
	parURL := e.issuer + oauth.PathPAR
	st, body := e.dpopPost(oauth.PathPAR, assert("ps", jose.PS256), rsaProof(t, jose.PS256, parURL))
	mustStatus(t, st, http.StatusCreated, "PS256 assertion and proof", body)
	st, body = e.dpopPost(oauth.PathPAR, assert("rs", jose.RS256), rsaProof(t, jose.PS256, parURL))
	wantOAuthError(t, st, body, http.StatusUnauthorized, oauth.ErrInvalidClient)
	st, body = e.dpopPost(oauth.PathPAR, assert("ps", jose.PS256), rsaProof(t, jose.RS256, parURL))
	wantOAuthError(t, st, body, http.StatusBadRequest, oauth.ErrInvalidDPoPProof)
	// Other clients keep jwtauth's default algorithms.
	st, body, _ = e.dpopToken(ccForm, svcID, svcSecret, rsaProof(t, jose.RS256, e.issuer+oauth.PathToken))
	mustStatus(t, st, http.StatusOK, "RS256 proof of a client without the profile", body)
	found := false
	for _, ev := range e.events(audit.ActionDPoPProof) {
		found = found || (ev.Reason == "alg_not_allowed" && ev.Target == "client:"+fapiRSAID)
	}
	if !found {
		t.Error("the refused RS256 proof was not audited")
	}
}

// TestFAPIPARNonce: with server nonces required (oauth.dpop.nonce), a PAR
// proof without the nonce gets use_dpop_nonce and a DPoP-Nonce header
// (RFC 9449 §8), and the retry with it is accepted.
func TestFAPIPARNonce(t *testing.T) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	nonces, err := oauth.NewDPoPNonces(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvOpts(t, "sqlite", func(o *oauth.Options) { o.DPoPNonces = nonces })
	k := newDPoPKey(t)
	_, params := fapiRequest(t, e, oauth2.GenerateVerifier())
	parURL := e.issuer + oauth.PathPAR
	proofHeader := func(p string) func(*http.Request) { return func(r *http.Request) { r.Header.Set("DPoP", p) } }
	st, body, h := e.postJSONWith(oauth.PathPAR, fapiAuth(t, e, params, time.Now()), proofHeader(k.proof("POST", parURL, proofOpts{})))
	nonce := h.Get("DPoP-Nonce")
	if st != http.StatusBadRequest || str(body, "error") != oauth.ErrUseDPoPNonce || nonce == "" {
		t.Fatalf("PAR proof without nonce: %d %v nonce %q", st, body, nonce)
	}
	st, body, _ = e.postJSONWith(oauth.PathPAR, fapiAuth(t, e, params, time.Now()), proofHeader(k.proof("POST", parURL, proofOpts{nonce: nonce})))
	mustStatus(t, st, http.StatusCreated, "PAR proof with the nonce", body)
}
