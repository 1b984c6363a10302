package oauth_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/oauth"
)

// TestAttackClientSecretFloodStarvesSignIn floods the token endpoint with
// wrong secrets of a secret_hash (argon2id) client while a user signs in.
// Client secrets have their own bounded hasher: the flood is refused with
// 503 temporarily_unavailable + Retry-After once that budget is taken, the
// sign-in completes, and the sign-in hasher never queued behind (or ran)
// a single client-secret check.
func TestAttackClientSecretFloodStarvesSignIn(t *testing.T) {
	ctx := context.Background()
	signIn, err := identity.NewHasher(identity.Params{}, 2, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := identity.NewBoundedHasher(identity.Params{}, 1, time.Millisecond, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const legacyID, legacySecret = "legacy", "a hand-made secret that admins chose"
	phc, err := signIn.Hash(ctx, legacySecret)
	if err != nil {
		t.Fatal(err)
	}
	legacy := oauth.ClientFromConfig(config.Client{ID: legacyID, SecretHash: phc, GrantTypes: []string{"client_credentials"}}, "", []byte("k"))
	e := newEnvOpts(t, "sqlite", func(o *oauth.Options) {
		o.Users = identity.NewUsers(o.Store.(identity.Store), signIn, nil, nil, nil)
		o.Clients = oauth.NewRegistry([]*oauth.Client{legacy}, o.Store, []byte("k"), secrets)
	})
	before := signIn.Stats()

	const workers, each = 8, 4
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				req, _ := http.NewRequest(http.MethodPost, e.issuer+oauth.PathToken, strings.NewReader("grant_type=client_credentials"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(legacyID, "wrong-guess-0123456789abcdefghijklmnop")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				mu.Lock()
				statuses[resp.StatusCode]++
				if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
					t.Error("503 without Retry-After")
				}
				mu.Unlock()
			}
		}()
	}
	p := e.attempt(userName, userPass)
	wg.Wait()
	if p.status != http.StatusSeeOther {
		t.Fatalf("sign-in during the flood: %d", p.status)
	}
	if statuses[http.StatusServiceUnavailable] == 0 || statuses[http.StatusUnauthorized]+statuses[http.StatusServiceUnavailable] != workers*each {
		t.Fatalf("flood answers %v: want only 401 and 503, some 503", statuses)
	}
	got := signIn.Stats()
	if got.Hashes-before.Hashes != 1 || got.Waited != before.Waited {
		t.Fatalf("sign-in hasher: %d hashes (want 1: the sign-in), %d waits (want 0)", got.Hashes-before.Hashes, got.Waited-before.Waited)
	}
	if st := secrets.Stats(); st.Busy == 0 || st.Hashes+st.Busy != workers*each {
		t.Fatalf("client-secret hasher stats %+v", st)
	}
	t.Run("accept/right-secret-when-free", func(t *testing.T) {
		st, body, _ := e.tokenRequest(url.Values{"grant_type": {"client_credentials"}}, legacyID, legacySecret)
		mustStatus(t, st, http.StatusOK, "the legacy client after the flood", body)
	})
	busy := 0
	for _, ev := range e.events("oauth.token") {
		if ev.Reason == "secret_verification_busy" {
			busy++
		}
	}
	if busy != statuses[http.StatusServiceUnavailable] {
		t.Fatalf("%d busy refusals audited, %d answered", busy, statuses[http.StatusServiceUnavailable])
	}
}
