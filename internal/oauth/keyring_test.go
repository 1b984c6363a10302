package oauth_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/testkit"
)

// forge signs an access token for the test user with k, as an attacker
// holding a copy of k's private key (a backup, a leaked disk) would.
func (e *env) forge(t *testing.T, k keys.ActiveKey) (token, jti string) {
	t.Helper()
	sk := k.SigningKey()
	signer, err := jose.NewSigner(sk, (&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	jti = base64.RawURLEncoding.EncodeToString(b)
	now := time.Now()
	payload, _ := json.Marshal(map[string]any{
		"iss": e.issuer, "sub": e.userID, "aud": []string{apiAud}, "client_id": webID, "scope": "openid profile",
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": jti,
	})
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	token, err = jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return token, jti
}

// userinfoCode calls userinfo with token.
func (e *env) userinfoCode(t *testing.T, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.issuer+oauth.PathUserinfo, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// introspectActive introspects token as the resource-server client.
func (e *env) introspectActive(t *testing.T, token string) bool {
	t.Helper()
	code, out, _ := e.postJSON(oauth.PathIntrospect, url.Values{"token": {token}}, "introspector", otherSecret)
	mustStatus(t, code, http.StatusOK, "introspect", out)
	return out["active"] == true
}

// revokeHonoured revokes token as its client and reports whether the
// server took it for a valid token (its jti is now on the deny list).
func (e *env) revokeHonoured(t *testing.T, token, jti string) bool {
	t.Helper()
	code, out, _ := e.postJSON(oauth.PathRevoke, url.Values{"token": {token}, "client_id": {webID}}, "", "")
	mustStatus(t, code, http.StatusOK, "revoke", out)
	denied, err := e.store.IsDenied(context.Background(), jti, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return denied
}

// jwksKIDs fetches the served JWKS.
func (e *env) jwksKIDs(t *testing.T) []string {
	t.Helper()
	resp, err := http.Get(e.issuer + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}

// runKeys runs the server's key manager as serve does (Run: it follows the
// key ring every PollInterval), until the test ends.
func (e *env) runKeys(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.keys.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// otherManager is another instance (or the CLI) on the same database,
// with its own clock.
func (e *env) otherManager(t *testing.T, clock func() time.Time) *keys.Manager {
	t.Helper()
	m, err := keys.NewManager(keys.Options{Store: e.store, Master: e.master, MaxTokenLifetime: time.Hour,
		Auditor: e.audit, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Init(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
	return m
}

// followWait is how long a running server gets to follow a key change
// made by another instance.
const followWait = 15 * time.Second

// TestRemovedSigningKeyNoLongerTrusted: an attacker holds a copy of a
// signing key. Once the schedule has retired and removed it (here run by
// another instance whose clock is a day ahead), tokens forged with it are
// rejected by userinfo, introspection and revocation of the running server
// without a restart, although that server verified tokens of that key
// before. (Before the fix its kid-to-key cache kept trusting it.)
func TestRemovedSigningKeyNoLongerTrusted(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		leaked, err := e.keys.Signer()
		if err != nil {
			t.Fatal(err)
		}
		// While the key is in use its tokens verify (and the verifier has
		// met its kid).
		tok, jti := e.forge(t, leaked)
		if got := e.userinfoCode(t, tok); got != http.StatusOK {
			t.Fatalf("userinfo with the active key's token: %d", got)
		}
		if !e.introspectActive(t, tok) {
			t.Fatal("introspection of the active key's token: inactive")
		}
		e.runKeys(t)

		// The schedule, on another instance: rotate, retire, remove.
		var now atomic.Int64
		now.Store(time.Now().UnixNano())
		clock := func() time.Time { return time.Unix(0, now.Load()) }
		other := e.otherManager(t, clock)
		next, err := other.Rotate(context.Background(), "test")
		if err != nil {
			t.Fatal(err)
		}
		now.Add(int64(2 * time.Hour))
		e.otherManager(t, clock) // promotes next, retires the leaked key
		now.Add(int64(24 * time.Hour))
		e.otherManager(t, clock) // removes it
		testkit.WaitFor(t, "the removed key to leave the server's key set", followWait, func() bool {
			k, _ := e.keys.Signer()
			return k.KID == next.KID && !slices.Contains(e.jwksKIDs(t), leaked.KID)
		})

		tok, jti = e.forge(t, leaked)
		t.Run("reject/userinfo-removed-key", func(t *testing.T) {
			if got := e.userinfoCode(t, tok); got != http.StatusUnauthorized {
				t.Fatalf("userinfo accepted a token of a removed key: %d", got)
			}
		})
		t.Run("reject/introspection-removed-key", func(t *testing.T) {
			if e.introspectActive(t, tok) {
				t.Fatal("introspection says a token of a removed key is active")
			}
		})
		t.Run("reject/revocation-removed-key", func(t *testing.T) {
			if e.revokeHonoured(t, tok, jti) {
				t.Fatal("revocation took a token of a removed key for a valid one")
			}
		})
		t.Run("accept/current-key", func(t *testing.T) {
			cur, err := e.keys.Signer()
			if err != nil {
				t.Fatal(err)
			}
			good, _ := e.forge(t, cur)
			if got := e.userinfoCode(t, good); got != http.StatusOK {
				t.Fatalf("userinfo with the current key's token: %d", got)
			}
		})
	})
}

// TestRevokedSigningKeyRejected: an operator revokes the active key on
// another instance (as `rampart key revoke` does). The running server then
// rejects the key's tokens, drops it from the JWKS, and signs new tokens
// with the replacement, which verify.
func TestRevokedSigningKeyRejected(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		old, err := e.keys.Signer()
		if err != nil {
			t.Fatal(err)
		}
		tok, jti := e.forge(t, old) // a token the server itself could have issued
		if got := e.userinfoCode(t, tok); got != http.StatusOK {
			t.Fatalf("userinfo before the revocation: %d", got)
		}
		e.runKeys(t)
		res, err := e.otherManager(t, time.Now).Revoke(ctx, "cli:test", old.KID)
		if err != nil || res.Replacement == nil {
			t.Fatalf("Revoke = %+v, %v", res, err)
		}
		testkit.WaitFor(t, "the server to follow the revocation", followWait, func() bool {
			k, _ := e.keys.Signer()
			return k.KID == res.Replacement.KID && slices.Equal(e.jwksKIDs(t), []string{res.Replacement.KID})
		})
		t.Run("reject/userinfo-revoked-key", func(t *testing.T) {
			if got := e.userinfoCode(t, tok); got != http.StatusUnauthorized {
				t.Fatalf("userinfo accepted a token of a revoked key: %d", got)
			}
		})
		t.Run("reject/introspection-revoked-key", func(t *testing.T) {
			if e.introspectActive(t, tok) {
				t.Fatal("introspection says a token of a revoked key is active")
			}
		})
		t.Run("reject/revocation-revoked-key", func(t *testing.T) {
			if e.revokeHonoured(t, tok, jti) {
				t.Fatal("revocation took a token of a revoked key for a valid one")
			}
		})
		t.Run("accept/new-token-new-key", func(t *testing.T) {
			code, out, _ := e.tokenRequest(url.Values{"grant_type": {"client_credentials"}, "scope": {"reports:read"}, "resource": {apiAud}}, svcID, svcSecret)
			mustStatus(t, code, http.StatusOK, "client credentials", out)
			at := str(out, "access_token")
			h, err := jose.ParseSignedCompact(at, []jose.SignatureAlgorithm{jose.ES256})
			if err != nil || h.Signatures[0].Header.KeyID != res.Replacement.KID {
				t.Fatalf("new token not signed by the replacement: %v", err)
			}
			if !e.introspectActive(t, at) {
				t.Fatal("a token of the replacement key is inactive")
			}
		})
	})
}
