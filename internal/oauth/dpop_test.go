package oauth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/redis/go-redis/v9"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/jwtauth"
)

const dpopSvcID = "dpop-svc" // confidential, require_dpop (harness_test.go)

// dpopKey is a client's DPoP key pair.
type dpopKey struct {
	t    testing.TB
	priv *ecdsa.PrivateKey
	jkt  string
}

func newDPoPKey(t testing.TB) *dpopKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: &priv.PublicKey}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return &dpopKey{t: t, priv: priv, jkt: base64.RawURLEncoding.EncodeToString(tp)}
}

// proofOpts adjusts a proof.
type proofOpts struct {
	iat       time.Time
	nonce     string
	token     string // the access token, for ath
	jti       string
	claims    map[string]any // overrides
	embedPriv bool           // put the private key in the jwk header
}

// proof signs an RFC 9449 §4.2 proof for method and htu.
func (k *dpopKey) proof(method, htu string, o proofOpts) string {
	k.t.Helper()
	if o.iat.IsZero() {
		o.iat = time.Now()
	}
	if o.jti == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		o.jti = hex.EncodeToString(b)
	}
	c := map[string]any{"jti": o.jti, "htm": method, "htu": htu, "iat": o.iat.Unix()}
	if o.nonce != "" {
		c["nonce"] = o.nonce
	}
	if o.token != "" {
		sum := sha256.Sum256([]byte(o.token))
		c["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	for n, v := range o.claims {
		c[n] = v
	}
	payload, _ := json.Marshal(c)
	var jwk any = &k.priv.PublicKey
	if o.embedPriv {
		jwk = k.priv
	}
	opts := (&jose.SignerOptions{ExtraHeaders: map[jose.HeaderKey]any{"jwk": jose.JSONWebKey{Key: jwk}}}).WithType("dpop+jwt")
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k.priv}, opts)
	if err != nil {
		k.t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		k.t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		k.t.Fatal(err)
	}
	return out
}

// dpopToken posts a token request with the given DPoP header values.
func (e *env) dpopToken(form url.Values, basicID, basicSecret string, proofs ...string) (int, map[string]any, http.Header) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+oauth.PathToken, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &out); err != nil {
		e.t.Fatalf("token endpoint answered non-JSON %q", body)
	}
	return resp.StatusCode, out, resp.Header
}

var ccForm = url.Values{"grant_type": {"client_credentials"}, "scope": {"reports:read"}}

// resourceServer is a jwtauth resource server for apiAud trusting the
// issuer's JWKS, with DPoP enabled.
func (e *env) resourceServer(t *testing.T) *jwtauth.Verifier {
	t.Helper()
	jwks, err := jwtauth.NewJWKS(jwtauth.JWKSConfig{URL: e.issuer + "/.well-known/jwks.json"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := jwtauth.New(jwtauth.Config{Issuer: e.issuer, Keys: jwks, Audiences: []string{apiAud},
		DPoP: jwtauth.DPoPConfig{Replay: jwtauth.NewMemoryReplayCache(nil, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// claimsOf decodes a JWT's payload without verifying it.
func claimsOf(t *testing.T, tok string) map[string]any {
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

func cnfJKT(t *testing.T, tok string) string {
	t.Helper()
	c, _ := claimsOf(t, tok)["cnf"].(map[string]any)
	s, _ := c["jkt"].(string)
	return s
}

// TestDPoPBoundTokenAtResourceServer: a client-credentials token issued
// with a proof is bound to the proof's key (cnf.jkt, token_type DPoP); a
// jwtauth resource server accepts it with a fresh proof of that key and
// refuses it as a Bearer token, with a replayed proof, with a proof of
// another key, and with a proof for another URI or method.
func TestDPoPBoundTokenAtResourceServer(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		k := newDPoPKey(t)
		status, body, _ := e.dpopToken(ccForm, svcID, svcSecret, k.proof("POST", e.issuer+oauth.PathToken, proofOpts{}))
		mustStatus(t, status, http.StatusOK, "token with proof", body)
		at := str(body, "access_token")
		if str(body, "token_type") != "DPoP" || cnfJKT(t, at) != k.jkt {
			t.Fatalf("token_type %q, cnf.jkt %q; want DPoP bound to %s", str(body, "token_type"), cnfJKT(t, at), k.jkt)
		}
		rs := e.resourceServer(t)
		ctx := context.Background()
		const api = apiAud + "/reports"
		fresh := k.proof("GET", api, proofOpts{token: at})
		if _, err := rs.VerifyDPoP(ctx, at, fresh, "GET", api); err != nil {
			t.Fatalf("bound token with a fresh proof refused: %v", err)
		}
		if _, err := rs.Verify(ctx, at); jwtauth.ReasonOf(err) != jwtauth.ReasonDPoPRequired {
			t.Fatalf("bound token as Bearer: %v; want dpop_required", err)
		}
		if _, err := rs.VerifyDPoP(ctx, at, fresh, "GET", api); jwtauth.ReasonOf(err) != jwtauth.ReasonDPoPReplay {
			t.Fatalf("replayed proof: %v; want dpop_replay", err)
		}
		other := newDPoPKey(t)
		if _, err := rs.VerifyDPoP(ctx, at, other.proof("GET", api, proofOpts{token: at}), "GET", api); jwtauth.ReasonOf(err) != jwtauth.ReasonDPoPMismatch {
			t.Fatalf("proof of another key: %v; want dpop_mismatch", err)
		}
		if _, err := rs.VerifyDPoP(ctx, at, k.proof("GET", apiAud+"/admin", proofOpts{token: at}), "GET", api); jwtauth.ReasonOf(err) != jwtauth.ReasonDPoPMismatch {
			t.Fatalf("proof for another htu: %v; want dpop_mismatch", err)
		}
		if _, err := rs.VerifyDPoP(ctx, at, k.proof("DELETE", api, proofOpts{token: at}), "GET", api); jwtauth.ReasonOf(err) != jwtauth.ReasonDPoPMismatch {
			t.Fatalf("proof for another htm: %v; want dpop_mismatch", err)
		}
	})
}

// TestDPoPWithoutProofIsBearer: without a proof nothing changes: a
// Bearer token without cnf.
func TestDPoPWithoutProofIsBearer(t *testing.T) {
	e := newEnv(t, "sqlite")
	status, body, _ := e.dpopToken(ccForm, svcID, svcSecret)
	mustStatus(t, status, http.StatusOK, "token", body)
	if str(body, "token_type") != "Bearer" || cnfJKT(t, str(body, "access_token")) != "" {
		t.Fatalf("token_type %q cnf %q; want an unbound Bearer token", str(body, "token_type"), cnfJKT(t, str(body, "access_token")))
	}
}

// TestDPoPTokenEndpointRefusesBadProofs: each hostile or broken proof is
// answered 400 invalid_dpop_proof, issues nothing, and (but for the
// nonce-free cases here, all of them) is audited oauth.dpop_proof.
func TestDPoPTokenEndpointRefusesBadProofs(t *testing.T) {
	e := newEnv(t, "sqlite")
	k := newDPoPKey(t)
	tokenURL := e.issuer + oauth.PathToken
	used := k.proof("POST", tokenURL, proofOpts{})
	status, body, _ := e.dpopToken(ccForm, svcID, svcSecret, used)
	mustStatus(t, status, http.StatusOK, "first use", body)
	hs := func() string { // an HMAC "proof" proves nothing
		s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: make([]byte, 32)}, (&jose.SignerOptions{}).WithType("dpop+jwt"))
		jws, _ := s.Sign([]byte(`{"jti":"x","htm":"POST","htu":"` + tokenURL + `","iat":` + itoa64(time.Now().Unix()) + `}`))
		out, _ := jws.CompactSerialize()
		return out
	}()
	cases := []struct {
		name   string
		proofs []string
	}{
		{"replayed", []string{used}},
		{"two headers", []string{k.proof("POST", tokenURL, proofOpts{}), k.proof("POST", tokenURL, proofOpts{})}},
		{"other htu", []string{k.proof("POST", e.issuer+oauth.PathRevoke, proofOpts{})}},
		{"other host", []string{k.proof("POST", "https://evil.example"+oauth.PathToken, proofOpts{})}},
		{"other htm", []string{k.proof("GET", tokenURL, proofOpts{})}},
		{"stale iat", []string{k.proof("POST", tokenURL, proofOpts{iat: time.Now().Add(-10 * time.Minute)})}},
		{"future iat", []string{k.proof("POST", tokenURL, proofOpts{iat: time.Now().Add(10 * time.Minute)})}},
		{"private key in jwk", []string{k.proof("POST", tokenURL, proofOpts{embedPriv: true})}},
		{"hmac", []string{hs}},
		{"no jti", []string{k.proof("POST", tokenURL, proofOpts{claims: map[string]any{"jti": nil}})}},
		{"malformed", []string{"not.a.jwt"}},
		{"empty", []string{" "}},
		{"oversized", []string{strings.Repeat("A", 9<<10) + "." + strings.Repeat("A", 10) + "." + strings.Repeat("A", 10)}},
		{"tampered", []string{jwtauthFlip(k.proof("POST", tokenURL, proofOpts{}))}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body, _ := e.dpopToken(ccForm, svcID, svcSecret, c.proofs...)
			if status != http.StatusBadRequest || str(body, "error") != oauth.ErrInvalidDPoPProof || str(body, "access_token") != "" {
				t.Fatalf("got %d %v; want 400 invalid_dpop_proof", status, body)
			}
		})
	}
	if n := len(e.events(audit.ActionDPoPProof)); n != len(cases) {
		t.Fatalf("%d oauth.dpop_proof events, want %d", n, len(cases))
	}
}

// jwtauthFlip changes the signature of a compact JWS.
func jwtauthFlip(s string) string {
	i := strings.LastIndexByte(s, '.')
	sig := []byte(s[i+1:])
	if sig[0] == 'A' {
		sig[0] = 'B'
	} else {
		sig[0] = 'A'
	}
	return s[:i+1] + string(sig)
}

// TestDPoPRequiredByClient: a require_dpop client gets nothing without a
// proof (RFC 9449 §5: invalid_dpop_proof with a description), and a bound
// token with one.
func TestDPoPRequiredByClient(t *testing.T) {
	e := newEnv(t, "sqlite")
	status, body, _ := e.dpopToken(ccForm, dpopSvcID, svcSecret)
	if status != http.StatusBadRequest || str(body, "error") != oauth.ErrInvalidDPoPProof || str(body, "error_description") == "" || str(body, "access_token") != "" {
		t.Fatalf("require_dpop without proof: %d %v", status, body)
	}
	k := newDPoPKey(t)
	status, body, _ = e.dpopToken(ccForm, dpopSvcID, svcSecret, k.proof("POST", e.issuer+oauth.PathToken, proofOpts{}))
	mustStatus(t, status, http.StatusOK, "require_dpop with proof", body)
	if str(body, "token_type") != "DPoP" || cnfJKT(t, str(body, "access_token")) != k.jkt {
		t.Fatalf("require_dpop: %v", body)
	}
	ev := e.events(audit.ActionDPoPProof)
	if len(ev) != 1 || ev[0].Reason != "proof_required" || ev[0].Actor != "client:"+dpopSvcID {
		t.Fatalf("audit %+v", ev)
	}
}

// webCode runs the public client's authorization request (with extra
// parameters) through sign-in and returns the code and the verifier.
func (e *env) webCode(t *testing.T, scope string, extra ...string) (code, verifier string) {
	t.Helper()
	v, ch := pkce()
	b := e.browser()
	q := b.codeFrom(b.login(e.authorizeURL(webID, e.callback, scope, "s", ch, extra...), userName, userPass))
	if q.Get("code") == "" {
		t.Fatalf("no code: %v", q)
	}
	return q.Get("code"), v
}

func codeForm(code, verifier, redirect string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}, "client_id": {webID}}
}

// TestDPoPPublicRefreshTokenBound: a public client's refresh token issued
// with a proof is bound to its key: refused without a proof and with a
// proof of another key (neither spends it), accepted with the key, and the
// rotated token stays bound.
func TestDPoPPublicRefreshTokenBound(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		k := newDPoPKey(t)
		tokenURL := e.issuer + oauth.PathToken
		code, v := e.webCode(t, "openid notes:read")
		status, body, _ := e.dpopToken(codeForm(code, v, e.callback), "", "", k.proof("POST", tokenURL, proofOpts{}))
		mustStatus(t, status, http.StatusOK, "code with proof", body)
		rt := str(body, "refresh_token")
		if rt == "" || str(body, "token_type") != "DPoP" || cnfJKT(t, str(body, "access_token")) != k.jkt {
			t.Fatalf("code exchange: %v", body)
		}
		refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {webID}}
		status, body, _ = e.dpopToken(refresh, "", "")
		if status != http.StatusBadRequest || str(body, "error") != oauth.ErrInvalidGrant {
			t.Fatalf("bound refresh token without proof: %d %v", status, body)
		}
		thief := newDPoPKey(t)
		status, body, _ = e.dpopToken(refresh, "", "", thief.proof("POST", tokenURL, proofOpts{}))
		if status != http.StatusBadRequest || str(body, "error") != oauth.ErrInvalidGrant {
			t.Fatalf("bound refresh token with another key: %d %v", status, body)
		}
		status, body, _ = e.dpopToken(refresh, "", "", k.proof("POST", tokenURL, proofOpts{}))
		mustStatus(t, status, http.StatusOK, "refresh with the key", body)
		if str(body, "token_type") != "DPoP" || cnfJKT(t, str(body, "access_token")) != k.jkt {
			t.Fatalf("refresh: %v", body)
		}
		refresh.Set("refresh_token", str(body, "refresh_token"))
		status, body, _ = e.dpopToken(refresh, "", "")
		if status != http.StatusBadRequest || str(body, "error") != oauth.ErrInvalidGrant {
			t.Fatalf("rotated refresh token lost its binding: %d %v", status, body)
		}
		n := 0
		for _, ev := range e.events(audit.ActionRefresh) {
			if ev.Reason == "dpop_key_mismatch" {
				n++
			}
		}
		if n != 3 {
			t.Fatalf("%d dpop_key_mismatch refresh events, want 3", n)
		}
	})
}

// TestDPoPJKTBindsCode: dpop_jkt on the authorization request (RFC 9449
// §10) binds the code: redeemed with a proof of another key, or without a
// proof, it is refused and spent; with the named key it works. A dpop_jkt
// that is no thumbprint is refused at the authorization endpoint.
func TestDPoPJKTBindsCode(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		k, thief := newDPoPKey(t), newDPoPKey(t)
		tokenURL := e.issuer + oauth.PathToken
		code, v := e.webCode(t, "openid", "dpop_jkt", k.jkt)
		status, body, _ := e.dpopToken(codeForm(code, v, e.callback), "", "", thief.proof("POST", tokenURL, proofOpts{}))
		if status != http.StatusBadRequest || str(body, "error") != oauth.ErrInvalidGrant {
			t.Fatalf("code bound by dpop_jkt redeemed with another key: %d %v", status, body)
		}
		// One attempt per code: the legitimate holder cannot use it now.
		status, body, _ = e.dpopToken(codeForm(code, v, e.callback), "", "", k.proof("POST", tokenURL, proofOpts{}))
		if status != http.StatusBadRequest || str(body, "error") != oauth.ErrInvalidGrant {
			t.Fatalf("spent code: %d %v", status, body)
		}
		code, v = e.webCode(t, "openid", "dpop_jkt", k.jkt)
		status, body, _ = e.dpopToken(codeForm(code, v, e.callback), "", "")
		if status != http.StatusBadRequest || str(body, "error") != oauth.ErrInvalidGrant {
			t.Fatalf("code bound by dpop_jkt redeemed without proof: %d %v", status, body)
		}
		code, v = e.webCode(t, "openid", "dpop_jkt", k.jkt)
		status, body, _ = e.dpopToken(codeForm(code, v, e.callback), "", "", k.proof("POST", tokenURL, proofOpts{}))
		mustStatus(t, status, http.StatusOK, "code with the dpop_jkt key", body)
		if cnfJKT(t, str(body, "access_token")) != k.jkt {
			t.Fatalf("not bound: %v", body)
		}
		n := 0
		for _, ev := range e.events(audit.ActionToken) {
			if ev.Reason == "dpop_jkt_mismatch" {
				n++
			}
		}
		if n != 2 {
			t.Fatalf("%d dpop_jkt_mismatch events, want 2", n)
		}
		_, ch := pkce()
		p := e.browser().get(e.authorizeURL(webID, e.callback, "openid", "s", ch, "dpop_jkt", "not-a-thumbprint"))
		if p.status != http.StatusSeeOther || !strings.Contains(p.location, "error=invalid_request") {
			t.Fatalf("malformed dpop_jkt: %d %q", p.status, p.location)
		}
	})
}

// TestDPoPNonceRoundTrip: with server nonces on, a proof without one gets
// 400 use_dpop_nonce and a DPoP-Nonce header; the retry with that nonce
// succeeds and its response carries a nonce too; a made-up nonce is
// refused the same way.
func TestDPoPNonceRoundTrip(t *testing.T) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	nonces, err := oauth.NewDPoPNonces(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvOpts(t, "sqlite", func(o *oauth.Options) { o.DPoPNonces = nonces })
	k := newDPoPKey(t)
	tokenURL := e.issuer + oauth.PathToken
	status, body, h := e.dpopToken(ccForm, svcID, svcSecret, k.proof("POST", tokenURL, proofOpts{}))
	nonce := h.Get("DPoP-Nonce")
	if status != http.StatusBadRequest || str(body, "error") != oauth.ErrUseDPoPNonce || nonce == "" {
		t.Fatalf("proof without nonce: %d %v nonce %q", status, body, nonce)
	}
	status, body, _ = e.dpopToken(ccForm, svcID, svcSecret, k.proof("POST", tokenURL, proofOpts{nonce: "made-up"}))
	if status != http.StatusBadRequest || str(body, "error") != oauth.ErrUseDPoPNonce {
		t.Fatalf("made-up nonce: %d %v", status, body)
	}
	status, body, h = e.dpopToken(ccForm, svcID, svcSecret, k.proof("POST", tokenURL, proofOpts{nonce: nonce}))
	mustStatus(t, status, http.StatusOK, "proof with the nonce", body)
	if h.Get("DPoP-Nonce") == "" || cnfJKT(t, str(body, "access_token")) != k.jkt {
		t.Fatalf("success without a fresh nonce or unbound: %v %v", h, body)
	}
}

// TestDPoPNoncesAcrossFleet: nonces are stateless: an instance with the
// same data key accepts another's nonce in its slot and the next, not
// later; an instance with another key never.
func TestDPoPNoncesAcrossFleet(t *testing.T) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	a, _ := oauth.NewDPoPNonces(key, clock)
	b, _ := oauth.NewDPoPNonces(key, clock)
	other, _ := oauth.NewDPoPNonces(make([]byte, 32), clock)
	n := a.Current()
	if !b.Valid(n) || other.Valid(n) {
		t.Fatalf("same key valid %v, other key valid %v", b.Valid(n), other.Valid(n))
	}
	now = now.Add(oauth.DPoPNonceWindow)
	if !b.Valid(n) {
		t.Fatal("the previous slot's nonce refused")
	}
	now = now.Add(oauth.DPoPNonceWindow)
	if b.Valid(n) {
		t.Fatal("a nonce two slots old accepted")
	}
}

// TestDPoPReplayAcrossFleet: two instances sharing the Redis replay cache
// (as app wires it when redis.url is set): a proof used at one is refused
// at the other.
func TestDPoPReplayAcrossFleet(t *testing.T) {
	u := os.Getenv("RAMPART_TEST_REDIS_URL")
	if u == "" {
		t.Skip("set RAMPART_TEST_REDIS_URL=redis://127.0.0.1:6379/0 to run the Redis replay-cache test")
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opts)
	t.Cleanup(func() { _ = rc.Close() })
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	prefix := "rampart-test:" + hex.EncodeToString(b) + ":"
	shared := func(o *oauth.Options) { o.DPoPReplay = jwtauth.NewRedisReplayCache(rc, prefix) }
	one := newEnvOpts(t, "sqlite", shared)
	// A second instance of the same issuer (its configured issuer is the
	// first one's URL, as behind a load balancer), on its own database.
	two := newEnvOpts(t, "sqlite", func(o *oauth.Options) { shared(o); o.Issuer = one.issuer })
	k := newDPoPKey(t)
	p := k.proof("POST", one.issuer+oauth.PathToken, proofOpts{})
	status, body, _ := one.dpopToken(ccForm, svcID, svcSecret, p)
	mustStatus(t, status, http.StatusOK, "first use", body)
	status, body, _ = two.dpopToken(ccForm, svcID, svcSecret, p)
	if status != http.StatusBadRequest || str(body, "error") != oauth.ErrInvalidDPoPProof {
		t.Fatalf("proof replayed at another instance: %d %v", status, body)
	}
	// The control: a fresh proof is accepted at the second instance.
	status, body, _ = two.dpopToken(ccForm, svcID, svcSecret, k.proof("POST", one.issuer+oauth.PathToken, proofOpts{}))
	mustStatus(t, status, http.StatusOK, "fresh proof at the second instance", body)
}

// userinfo calls the userinfo endpoint with an Authorization header and
// DPoP header values.
func (e *env) userinfo(method, auth string, proofs ...string) (int, map[string]any, http.Header) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.issuer+oauth.PathUserinfo, nil)
	req.Header.Set("Authorization", auth)
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

// TestDPoPUserinfo: userinfo accepts a DPoP-bound token with the DPoP
// scheme and a proof for GET or POST to its URL (RFC 9449 §7.1), and
// refuses it as Bearer, without a proof, with a replayed proof, with a
// proof of another key or for another URI, each with a DPoP challenge.
func TestDPoPUserinfo(t *testing.T) {
	e := newEnv(t, "sqlite")
	k := newDPoPKey(t)
	code, v := e.webCode(t, "openid profile")
	status, body, _ := e.dpopToken(codeForm(code, v, e.callback), "", "", k.proof("POST", e.issuer+oauth.PathToken, proofOpts{}))
	mustStatus(t, status, http.StatusOK, "code with proof", body)
	at := str(body, "access_token")
	ui := e.issuer + oauth.PathUserinfo
	for _, m := range []string{"GET", "POST"} {
		status, body, _ = e.userinfo(m, "DPoP "+at, k.proof(m, ui, proofOpts{token: at}))
		if status != http.StatusOK || str(body, "sub") != e.userID || str(body, "preferred_username") != userName {
			t.Fatalf("%s userinfo with DPoP: %d %v", m, status, body)
		}
	}
	used := k.proof("GET", ui, proofOpts{token: at})
	if status, _, _ := e.userinfo("GET", "DPoP "+at, used); status != http.StatusOK {
		t.Fatalf("first use of a proof: %d", status)
	}
	other := newDPoPKey(t)
	cases := []struct {
		name, auth string
		proofs     []string
		code       string
	}{
		{"as bearer", "Bearer " + at, nil, oauth.ErrInvalidToken},
		{"as bearer with proof", "Bearer " + at, []string{k.proof("GET", ui, proofOpts{token: at})}, oauth.ErrInvalidToken},
		{"no proof", "DPoP " + at, nil, oauth.ErrInvalidDPoPProof},
		{"replayed proof", "DPoP " + at, []string{used}, oauth.ErrInvalidDPoPProof},
		{"other key", "DPoP " + at, []string{other.proof("GET", ui, proofOpts{token: at})}, oauth.ErrInvalidDPoPProof},
		{"other htu", "DPoP " + at, []string{k.proof("GET", e.issuer+oauth.PathToken, proofOpts{token: at})}, oauth.ErrInvalidDPoPProof},
		{"no ath", "DPoP " + at, []string{k.proof("GET", ui, proofOpts{})}, oauth.ErrInvalidDPoPProof},
		{"two proofs", "DPoP " + at, []string{k.proof("GET", ui, proofOpts{token: at}), k.proof("GET", ui, proofOpts{token: at})}, oauth.ErrInvalidDPoPProof},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body, h := e.userinfo("GET", c.auth, c.proofs...)
			www := h.Get("WWW-Authenticate")
			if status != http.StatusUnauthorized || str(body, "error") != c.code || !strings.HasPrefix(www, "DPoP ") || !strings.Contains(www, `algs="`) || str(body, "sub") != "" {
				t.Fatalf("got %d %v %q; want 401 %s with a DPoP challenge", status, body, www, c.code)
			}
		})
	}
}

// TestDPoPIntrospectAndRevoke: introspection of a bound token names its
// key (RFC 9449 §6.2: cnf.jkt, token_type DPoP); the client can revoke its
// bound token like any other, after which it is inactive.
func TestDPoPIntrospectAndRevoke(t *testing.T) {
	e := newEnv(t, "sqlite")
	k := newDPoPKey(t)
	status, body, _ := e.dpopToken(url.Values{"grant_type": {"client_credentials"}, "scope": {"reports:read"}, "resource": {apiAud}}, svcID, svcSecret,
		k.proof("POST", e.issuer+oauth.PathToken, proofOpts{}))
	mustStatus(t, status, http.StatusOK, "token", body)
	at := str(body, "access_token")
	_, in, _ := e.postJSON(oauth.PathIntrospect, url.Values{"token": {at}}, "introspector", otherSecret)
	c, _ := in["cnf"].(map[string]any)
	if in["active"] != true || str(in, "token_type") != "DPoP" || c["jkt"] != k.jkt {
		t.Fatalf("introspection of a bound token: %v", in)
	}
	status, _, _ = e.postJSON(oauth.PathRevoke, url.Values{"token": {at}}, svcID, svcSecret)
	mustStatus(t, status, http.StatusOK, "revoke", nil)
	if _, in, _ = e.postJSON(oauth.PathIntrospect, url.Values{"token": {at}}, "introspector", otherSecret); in["active"] != false {
		t.Fatalf("revoked bound token still active: %v", in)
	}
}

// TestDPoPConfidentialRefreshNotKeyBound: a confidential client's refresh
// token is bound to the client's authentication, not to the DPoP key
// (RFC 9449 §5): it is redeemed without a proof (getting a Bearer token)
// or with a proof of a new key (getting a token bound to that key), while
// the access tokens issued with a proof are bound.
func TestDPoPConfidentialRefreshNotKeyBound(t *testing.T) {
	e := newEnv(t, "sqlite")
	k := newDPoPKey(t)
	tokenURL := e.issuer + oauth.PathToken
	code, v := e.consentedCode(t, appID, "openid")
	status, body, _ := e.dpopToken(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.callback}, "code_verifier": {v}},
		appID, appSecret, k.proof("POST", tokenURL, proofOpts{}))
	mustStatus(t, status, http.StatusOK, "code with proof", body)
	if cnfJKT(t, str(body, "access_token")) != k.jkt {
		t.Fatalf("access token of a confidential client not bound: %v", body)
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(body, "refresh_token")}}
	status, body, _ = e.dpopToken(refresh, appID, appSecret)
	mustStatus(t, status, http.StatusOK, "refresh without proof", body)
	if str(body, "token_type") != "Bearer" || cnfJKT(t, str(body, "access_token")) != "" {
		t.Fatalf("refresh without proof: %v", body)
	}
	rotated := newDPoPKey(t)
	refresh.Set("refresh_token", str(body, "refresh_token"))
	status, body, _ = e.dpopToken(refresh, appID, appSecret, rotated.proof("POST", tokenURL, proofOpts{}))
	mustStatus(t, status, http.StatusOK, "refresh with a new key", body)
	if cnfJKT(t, str(body, "access_token")) != rotated.jkt {
		t.Fatalf("refresh with a new key: %v", body)
	}
}
