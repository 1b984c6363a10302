package oauth_test

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
	"github.com/rampart-auth/rampart/mtls"
)

// TestCertBoundClientCredentials: a client-credentials request on the
// mTLS alias with a valid SVID gets a token bound to it (cnf.x5t#S256 =
// the SVID's thumbprint, token_type Bearer) and the oauth.token event says
// so; the alias without a certificate issues an unbound token; the main
// listener never binds.
func TestCertBoundClientCredentials(t *testing.T) {
	forEachCertDriver(t, func(t *testing.T, c *certEnv) {
		svid := c.ca.svid(t, "/svc/reporting", false)
		status, body := c.aliasToken(svid, ccForm, svcID, svcSecret)
		mustStatus(t, status, http.StatusOK, "alias with SVID", body)
		want := mtls.CertThumbprint(svid.Certificate[0])
		if got := cnfX5t(t, str(body, "access_token")); got != want || str(body, "token_type") != "Bearer" {
			t.Fatalf("cnf.x5t#S256 %q token_type %q, want %q Bearer", got, str(body, "token_type"), want)
		}
		status, body = c.aliasToken(nil, ccForm, svcID, svcSecret)
		mustStatus(t, status, http.StatusOK, "alias without certificate", body)
		if _, ok := claimsOf(t, str(body, "access_token"))["cnf"]; ok {
			t.Fatalf("a token without a certificate is bound: %v", claimsOf(t, str(body, "access_token")))
		}
		status, body, _ = c.tokenRequest(ccForm, svcID, svcSecret)
		mustStatus(t, status, http.StatusOK, "main listener", body)
		if cnfX5t(t, str(body, "access_token")) != "" {
			t.Fatal("the main listener bound a token")
		}
		var bound int
		for _, ev := range c.events(audit.ActionToken) {
			if ev.Outcome == audit.OutcomeSuccess && ev.Details["cert_bound"] == "true" && ev.Details["x5t_s256"] == want {
				bound++
			}
		}
		if bound != 1 {
			t.Fatalf("%d oauth.token events with cert_bound=true and the thumbprint, want 1", bound)
		}
	})
}

// forEachCertDriver runs fn with a certEnv on SQLite and (when
// configured) PostgreSQL.
func forEachCertDriver(t *testing.T, fn func(t *testing.T, c *certEnv)) {
	for _, d := range storetest.Drivers(t) {
		t.Run(d, func(t *testing.T) { fn(t, newCertEnv(t, d)) })
	}
}

// TestCertBoundRefusesBadCertificates: a certificate that is not a valid
// SVID of the trust domain is refused with invalid_request, never
// answered with an unbound token: a self-signed forgery with the same
// SPIFFE ID, an SVID of another CA.
func TestCertBoundRefusesBadCertificates(t *testing.T) {
	c := newCertEnv(t, "sqlite")
	other := newSVIDCA(t)
	for name, cert := range map[string]*tls.Certificate{
		"reject/self-signed-same-id": c.ca.svid(t, "/svc/reporting", true),
		"reject/other-ca":            other.svid(t, "/svc/reporting", false),
	} {
		t.Run(name, func(t *testing.T) {
			status, body := c.aliasToken(cert, ccForm, svcID, svcSecret)
			wantOAuthError(t, status, body, http.StatusBadRequest, oauth.ErrInvalidRequest)
			if str(body, "error_description") != "the client certificate is not a valid SVID" {
				t.Fatalf("description %q", str(body, "error_description"))
			}
		})
	}
	n := 0
	for _, ev := range c.events(audit.ActionToken) {
		if ev.Outcome == audit.OutcomeDenied && ev.Reason == "client_certificate_invalid" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d client_certificate_invalid events, want 2", n)
	}
}

// TestCertBoundRequiredByClient: a client registered with
// certificate_bound_access_tokens gets no token on the main listener (no
// certificate there) nor on the alias without one; with its SVID it does.
func TestCertBoundRequiredByClient(t *testing.T) {
	c := newCertEnv(t, "sqlite")
	status, body, _ := c.tokenRequest(ccForm, certSvcID, svcSecret)
	wantOAuthError(t, status, body, http.StatusBadRequest, oauth.ErrInvalidRequest)
	status, body = c.aliasToken(nil, ccForm, certSvcID, svcSecret)
	wantOAuthError(t, status, body, http.StatusBadRequest, oauth.ErrInvalidRequest)
	svid := c.ca.svid(t, "/svc/cert", false)
	status, body = c.aliasToken(svid, ccForm, certSvcID, svcSecret)
	mustStatus(t, status, http.StatusOK, "with SVID", body)
	if cnfX5t(t, str(body, "access_token")) != mtls.CertThumbprint(svid.Certificate[0]) {
		t.Fatal("not bound to the SVID")
	}
	n := 0
	for _, ev := range c.events(audit.ActionToken) {
		if ev.Reason == "client_certificate_required" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d client_certificate_required events, want 2", n)
	}
}

// TestCertBoundWithDPoP: a DPoP proof on the alias (htu the alias's URL)
// with an SVID gives a token with both cnf members and token_type DPoP; a
// proof made for the main token endpoint is refused on the alias.
func TestCertBoundWithDPoP(t *testing.T) {
	c := newCertEnv(t, "sqlite")
	k := newDPoPKey(t)
	svid := c.ca.svid(t, "/svc/reporting", false)
	status, body := c.aliasToken(svid, ccForm, svcID, svcSecret, k.proof("POST", c.tokenURL, proofOpts{}))
	mustStatus(t, status, http.StatusOK, "alias with SVID and proof", body)
	at := str(body, "access_token")
	if str(body, "token_type") != "DPoP" || cnfJKT(t, at) != k.jkt || cnfX5t(t, at) != mtls.CertThumbprint(svid.Certificate[0]) {
		t.Fatalf("token_type %q cnf %v", str(body, "token_type"), claimsOf(t, at)["cnf"])
	}
	status, body = c.aliasToken(svid, ccForm, svcID, svcSecret, k.proof("POST", c.issuer+oauth.PathToken, proofOpts{}))
	wantOAuthError(t, status, body, http.StatusBadRequest, oauth.ErrInvalidDPoPProof)
}

// TestCertBoundResources: a certificate-bound token is refused by the
// server's own resources without its certificate: userinfo and
// AuthenticateRequest (the admin API's check) on the main listener, which
// requests none, answer 401; on a listener with the certificate it is
// accepted, with another SVID refused. Introspection describes the
// binding (cnf.x5t#S256, RFC 8705 §3.2).
func TestCertBoundResources(t *testing.T) {
	c := newCertEnv(t, "sqlite")
	svid := c.ca.svid(t, "/svc/web", false)
	code, v := c.webCode(t, "openid profile")
	status, body := c.aliasToken(svid, codeForm(code, v, c.callback), "", "")
	mustStatus(t, status, http.StatusOK, "code on the alias", body)
	at := str(body, "access_token")
	if cnfX5t(t, at) != mtls.CertThumbprint(svid.Certificate[0]) {
		t.Fatal("code exchange on the alias not bound")
	}
	status, body, hdr := c.userinfo("GET", "Bearer "+at)
	if status != http.StatusUnauthorized || str(body, "error") != oauth.ErrInvalidToken || !strings.Contains(hdr.Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("userinfo with a bound token without its certificate: %d %v", status, body)
	}
	if status, text := c.resource([]string{"Bearer " + at}); status != http.StatusUnauthorized || text != "invalid" {
		t.Fatalf("AuthenticateRequest without the certificate: %d %q", status, text)
	}
	get := func(cert *tls.Certificate) int {
		req, _ := http.NewRequest(http.MethodGet, c.alias.URL+testResourcePath, nil)
		req.Header.Set("Authorization", "Bearer "+at)
		resp, err := c.client(cert).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get(svid); s != http.StatusOK {
		t.Fatalf("with the certificate: %d", s)
	}
	if s := get(c.ca.svid(t, "/svc/web", false)); s != http.StatusUnauthorized {
		t.Fatalf("with another SVID of the same ID: %d", s)
	}
	status, body, _ = c.postJSON(oauth.PathIntrospect, url.Values{"token": {at}}, "introspector", otherSecret)
	mustStatus(t, status, http.StatusOK, "introspect", body)
	cnf, _ := body["cnf"].(map[string]any)
	if body["active"] != true || cnf["x5t#S256"] != mtls.CertThumbprint(svid.Certificate[0]) {
		t.Fatalf("introspection %v", body)
	}
}

// TestCertBoundPublicRefresh: a public client's refresh token issued on
// the alias is bound to the certificate (RFC 8705 §4): refused on the
// main listener and with another SVID (neither spends it), accepted with
// the certificate (the new access token bound to it), and the rotated
// refresh token stays bound.
func TestCertBoundPublicRefresh(t *testing.T) {
	forEachCertDriver(t, func(t *testing.T, c *certEnv) {
		svid := c.ca.svid(t, "/svc/web", false)
		want := mtls.CertThumbprint(svid.Certificate[0])
		code, v := c.webCode(t, "openid notes:read")
		status, body := c.aliasToken(svid, codeForm(code, v, c.callback), "", "")
		mustStatus(t, status, http.StatusOK, "code on the alias", body)
		rt := str(body, "refresh_token")
		refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {webID}}
		status, body, _ = c.tokenRequest(refresh, "", "")
		wantOAuthError(t, status, body, http.StatusBadRequest, oauth.ErrInvalidGrant)
		status, body = c.aliasToken(nil, refresh, "", "")
		wantOAuthError(t, status, body, http.StatusBadRequest, oauth.ErrInvalidGrant)
		status, body = c.aliasToken(c.ca.svid(t, "/svc/web", false), refresh, "", "")
		wantOAuthError(t, status, body, http.StatusBadRequest, oauth.ErrInvalidGrant)
		status, body = c.aliasToken(svid, refresh, "", "")
		mustStatus(t, status, http.StatusOK, "refresh with the certificate", body)
		if cnfX5t(t, str(body, "access_token")) != want {
			t.Fatal("refreshed access token not bound")
		}
		refresh.Set("refresh_token", str(body, "refresh_token"))
		status, body, _ = c.tokenRequest(refresh, "", "")
		wantOAuthError(t, status, body, http.StatusBadRequest, oauth.ErrInvalidGrant)
		n := 0
		for _, ev := range c.events(audit.ActionRefresh) {
			if ev.Reason == "certificate_mismatch" {
				n++
			}
			if ev.Outcome == audit.OutcomeSuccess && (ev.Details["cert_bound"] != "true" || ev.Details["x5t_s256"] != want) {
				t.Fatalf("refresh event without the binding: %+v", ev)
			}
		}
		if n != 4 {
			t.Fatalf("%d certificate_mismatch refresh events, want 4", n)
		}
	})
}

// TestCertBoundConfidentialRefreshUnbound: a confidential client's refresh
// token is not bound to the certificate (it is bound to the client's
// authentication, RFC 8705 §4): refreshed on the main listener, the new
// access token is a bearer token.
func TestCertBoundConfidentialRefreshUnbound(t *testing.T) {
	c := newCertEnv(t, "sqlite")
	svid := c.ca.svid(t, "/svc/notes", false)
	v, ch := pkce()
	b := c.browser()
	p := b.login(c.authorizeURL(appID, c.callback, "openid notes:read", "s", ch), userName, userPass)
	q := b.codeFrom(b.post(oauth.PathConsent, mergeValues(hidden(p.body), url.Values{"decision": {"allow"}})))
	form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {c.callback}, "code_verifier": {v}}
	status, body := c.aliasToken(svid, form, appID, appSecret)
	mustStatus(t, status, http.StatusOK, "code on the alias", body)
	if cnfX5t(t, str(body, "access_token")) == "" {
		t.Fatal("not bound")
	}
	status, body, _ = c.tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(body, "refresh_token")}}, appID, appSecret)
	mustStatus(t, status, http.StatusOK, "refresh on the main listener", body)
	if cnfX5t(t, str(body, "access_token")) != "" {
		t.Fatal("a refresh without a certificate gave a bound token")
	}
}

func mergeValues(a, b url.Values) url.Values {
	for k, v := range b {
		a[k] = v
	}
	return a
}

// TestCertBoundDiscoveryWithoutAlias: a server without the mTLS alias
// publishes neither tls_client_certificate_bound_access_tokens nor
// mtls_endpoint_aliases (it would promise what it cannot do).
func TestCertBoundDiscoveryWithoutAlias(t *testing.T) {
	e := newEnv(t, "sqlite")
	resp, err := http.Get(e.issuer + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"tls_client_certificate_bound_access_tokens", "mtls_endpoint_aliases"} {
		if _, ok := doc[k]; ok {
			t.Errorf("%s published without an alias", k)
		}
	}
}

// TestCertBoundStoredClient: a stored client (`rampart client create
// --certificate-bound-access-tokens`) is held to the same rule as a
// configured one: refused without an SVID, bound with one.
func TestCertBoundStoredClient(t *testing.T) {
	c := newCertEnv(t, "sqlite")
	now := time.Now().UTC()
	cl := &oauth.Client{ID: "stored-cert", SecretHash: oauth.HashSecret(testMasterKey(t).Derive(kms.LabelClientSecret), svcSecret),
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"reports:read"}, Audience: []string{apiAud},
		CertificateBoundAccessTokens: true, Source: oauth.SourceCLI, CreatedAt: now, UpdatedAt: now}
	if err := c.store.CreateClient(t.Context(), cl); err != nil {
		t.Fatal(err)
	}
	status, body, _ := c.tokenRequest(ccForm, cl.ID, svcSecret)
	wantOAuthError(t, status, body, http.StatusBadRequest, oauth.ErrInvalidRequest)
	svid := c.ca.svid(t, "/svc/stored", false)
	status, body = c.aliasToken(svid, ccForm, cl.ID, svcSecret)
	mustStatus(t, status, http.StatusOK, "stored client with SVID", body)
	if cnfX5t(t, str(body, "access_token")) != mtls.CertThumbprint(svid.Certificate[0]) {
		t.Fatal("not bound")
	}
}
