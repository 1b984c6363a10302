package oauth_test

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/oauth"
)

// testResourcePath is a protected resource of the test server, guarded by
// AuthenticateRequest as the admin API is.
const testResourcePath = "/test/resource"

func testResource(as *oauth.Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := as.AuthenticateRequest(r)
		switch {
		case errors.Is(err, oauth.ErrNoAccessToken):
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, "none")
		case err != nil:
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, "invalid")
		default:
			_, _ = io.WriteString(w, "sub="+c.Subject+" jkt="+c.JKT)
		}
	})
}

func (e *env) resource(auth []string, proofs ...string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+testResourcePath, nil)
	for _, a := range auth {
		req.Header.Add("Authorization", a)
	}
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAuthenticateRequest: the server's own resources accept a Bearer
// token, a DPoP-bound token only with the DPoP scheme and a fresh proof
// of its key for this request, and refuse every confused or hostile
// presentation.
func TestAuthenticateRequest(t *testing.T) {
	e := newEnv(t, "sqlite")
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"reports:read"}}
	_, body, _ := e.tokenRequest(form, svcID, svcSecret)
	bearer := str(body, "access_token")
	k := newDPoPKey(t)
	status, body, _ := e.dpopToken(form, svcID, svcSecret, k.proof("POST", e.issuer+oauth.PathToken, proofOpts{}))
	mustStatus(t, status, http.StatusOK, "dpop token", body)
	bound := str(body, "access_token")
	htu := e.issuer + testResourcePath

	if code, got := e.resource([]string{"Bearer " + bearer}); code != http.StatusOK || !strings.HasPrefix(got, "sub="+svcID+" jkt=") || strings.HasSuffix(got, "=x") {
		t.Fatalf("bearer: %d %q", code, got)
	}
	if code, got := e.resource([]string{"DPoP " + bound}, k.proof("GET", htu, proofOpts{token: bound})); code != http.StatusOK || !strings.HasSuffix(got, "jkt="+k.jkt) {
		t.Fatalf("dpop: %d %q", code, got)
	}
	used := k.proof("GET", htu, proofOpts{token: bound})
	if code, _ := e.resource([]string{"DPoP " + bound}, used); code != http.StatusOK {
		t.Fatalf("first use of a proof: %d", code)
	}
	other := newDPoPKey(t)
	for name, c := range map[string]struct {
		auth   []string
		proofs []string
		want   string
	}{
		"none":                  {nil, nil, "none"},
		"bound as bearer":       {[]string{"Bearer " + bound}, nil, "invalid"},
		"bearer with a proof":   {[]string{"Bearer " + bearer}, []string{k.proof("GET", htu, proofOpts{token: bearer})}, "invalid"},
		"dpop without proof":    {[]string{"DPoP " + bound}, nil, "invalid"},
		"replayed proof":        {[]string{"DPoP " + bound}, []string{used}, "invalid"},
		"other key":             {[]string{"DPoP " + bound}, []string{other.proof("GET", htu, proofOpts{token: bound})}, "invalid"},
		"proof for another url": {[]string{"DPoP " + bound}, []string{k.proof("GET", e.issuer+oauth.PathUserinfo, proofOpts{token: bound})}, "invalid"},
		"two proofs":            {[]string{"DPoP " + bound}, []string{k.proof("GET", htu, proofOpts{token: bound}), k.proof("GET", htu, proofOpts{token: bound})}, "invalid"},
		"two headers":           {[]string{"Bearer " + bearer, "Bearer " + bearer}, nil, "invalid"},
		"basic":                 {[]string{"Basic " + bearer}, nil, "invalid"},
		"no token":              {[]string{"Bearer "}, nil, "invalid"},
		"token with spaces":     {[]string{"Bearer " + bearer + " x"}, nil, "invalid"},
		"oversized":             {[]string{"Bearer " + strings.Repeat("a", 17<<10)}, nil, "invalid"},
		"forged":                {[]string{"Bearer " + bearer[:len(bearer)-4] + "AAAA"}, nil, "invalid"},
	} {
		t.Run(name, func(t *testing.T) {
			if code, got := e.resource(c.auth, c.proofs...); code != http.StatusUnauthorized || got != c.want {
				t.Fatalf("%d %q, want 401 %q", code, got, c.want)
			}
		})
	}
}
