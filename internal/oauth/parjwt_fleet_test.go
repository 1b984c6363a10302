package oauth_test

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
	"github.com/rampart-auth/rampart/jwtauth"
)

// fleet is an env plus a second instance of the server on the same store
// (and the same replay cache), reached at its own address but with the
// same issuer, as behind a load balancer.
type fleet struct {
	*env
	second string // base URL of the second instance
}

func newFleet(t *testing.T, driver string, replay jwtauth.ReplayCache) *fleet {
	var opts oauth.Options
	e := newEnvOpts(t, driver, func(o *oauth.Options) {
		o.AssertionReplay = replay
		opts = *o
	})
	as, err := oauth.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	as.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fleet{env: e, second: srv.URL}
}

// onSecond posts a form to the second instance.
func (f *fleet) onSecond(t *testing.T, path string, form map[string][]string) int {
	t.Helper()
	resp, err := http.PostForm(f.second+path, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestSingleUseAcrossFleet: a client assertion used at one instance is
// refused at another (database conditional insert, or Redis SET NX when
// configured), and a request_uri whose code one instance issued opens on
// no other.
func TestSingleUseAcrossFleet(t *testing.T) {
	run := func(t *testing.T, f *fleet) {
		testAssertKeys()
		assertion := signAssertion(t, assertKey, "k1", jose.ES256, assertionClaims(signerInline, f.issuer))
		if st, body, _ := f.tokenRequest(assertionForm(assertion), "", ""); st != http.StatusOK {
			t.Fatalf("first use: %d %v", st, body)
		}
		if st := f.onSecond(t, oauth.PathToken, assertionForm(assertion)); st != http.StatusUnauthorized {
			t.Fatalf("replay at the second instance: %d, want 401", st)
		}
		fresh := signAssertion(t, assertKey, "k1", jose.ES256, assertionClaims(signerInline, f.issuer))
		if st := f.onSecond(t, oauth.PathToken, assertionForm(fresh)); st != http.StatusOK {
			t.Fatalf("a fresh assertion at the second instance: %d", st)
		}

		_, challenge := pkce()
		_, body := f.push(parConf(f.env, parID, "openid"), parSecret, oauth2.SetAuthURLParam("code_challenge", challenge), oauth2.SetAuthURLParam("code_challenge_method", "S256"))
		uri := str(body, "request_uri")
		b := f.browser()
		b.codeFrom(b.login(f.parAuthorizeURL(parID, uri), userName, userPass))
		resp, err := http.Get(strings.Replace(f.parAuthorizeURL(parID, uri), f.issuer, f.second, 1))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("used request_uri at the second instance: %d, want 400", resp.StatusCode)
		}
	}
	for _, d := range storetest.Drivers(t) {
		t.Run("database/"+d, func(t *testing.T) { run(t, newFleet(t, d, nil)) })
	}
	t.Run("redis", func(t *testing.T) {
		u := os.Getenv("RAMPART_TEST_REDIS_URL")
		if u == "" {
			t.Skip("set RAMPART_TEST_REDIS_URL to run the Redis replay-cache case")
		}
		ro, err := redis.ParseURL(u)
		if err != nil {
			t.Fatal(err)
		}
		rc := redis.NewClient(ro)
		t.Cleanup(func() { _ = rc.Close() })
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		run(t, newFleet(t, "sqlite", jwtauth.NewRedisReplayCache(rc, "rampart-test:"+hex.EncodeToString(b)+":")))
	})
}
