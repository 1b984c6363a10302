package oauth_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/store"
	"github.com/rampart-auth/rampart/jwtauth"
)

// TestRevokedTokenRejectedByResourceServer: a resource server using
// jwtauth with the shared Redis deny list rejects an access token as soon
// as it is revoked at Rampart (RFC 7009 + jwtauth DenyList).
func TestRevokedTokenRejectedByResourceServer(t *testing.T) {
	u := os.Getenv("RAMPART_TEST_REDIS_URL")
	if u == "" {
		t.Skip("set RAMPART_TEST_REDIS_URL=redis://127.0.0.1:6379/0 to run the Redis deny-list test")
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
	deny := jwtauth.NewRedisDenyList(rc, prefix)
	e := newEnvWith(t, "sqlite", deny)

	ctx := context.Background()
	_, tok, _ := e.tokenRequest(url.Values{"grant_type": {"client_credentials"}, "resource": {apiAud}}, svcID, svcSecret)
	at := str(tok, "access_token")
	jwks, err := jwtauth.NewJWKS(jwtauth.JWKSConfig{URL: e.issuer + "/.well-known/jwks.json"})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := jwtauth.New(jwtauth.Config{Issuer: e.issuer, Keys: jwks, Audiences: []string{apiAud}, DenyList: deny})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rs.Verify(ctx, at); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	st, _, _ := e.postJSON(oauth.PathRevoke, url.Values{"token": {at}}, svcID, svcSecret)
	mustStatus(t, st, http.StatusOK, "revoke", nil)
	if _, err := rs.Verify(ctx, at); jwtauth.ReasonOf(err) != jwtauth.ReasonRevoked {
		t.Fatalf("after revocation: %v, want %s", err, jwtauth.ReasonRevoked)
	}
}

// TestArgon2ClientSecret: a configuration client may carry an argon2id
// PHC hash instead of a secret; unknown client and wrong secret fail alike.
func TestArgon2ClientSecret(t *testing.T) {
	ctx := context.Background()
	h, err := identity.NewHasher(identity.Params{}, 1, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secret := "argon-secret-0123456789abcdefghijklmnopqrs"
	phc, err := h.Hash(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	reg := oauth.NewRegistry([]*oauth.Client{{ID: "a", SecretHash: phc, GrantTypes: []string{"client_credentials"}, Source: oauth.SourceConfig}}, nil, key, h)
	if c, err := reg.Authenticate(ctx, "a", secret, true); err != nil || c.ID != "a" {
		t.Fatalf("right secret: %v", err)
	}
	_, errWrong := reg.Authenticate(ctx, "a", secret+"x", true)
	_, errNone := reg.Authenticate(ctx, "a", "", false)
	if errWrong == nil || errNone == nil || errWrong.Error() != errNone.Error() {
		t.Fatalf("wrong secret %v, no secret %v", errWrong, errNone)
	}
	if _, err := reg.Get(ctx, "not a valid id!"); err != store.ErrNotFound {
		t.Fatalf("invalid id lookup: %v", err)
	}
}
