package app

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// TestClientSecretsHaveTheirOwnHasher: the registry serve builds checks
// secret_hash client secrets on a bounded hasher of its own. A wrong secret
// (anyone can send one) runs on it and never on the sign-in hasher, so a
// flood of them cannot queue sign-ins behind it.
func TestClientSecretsHaveTheirOwnHasher(t *testing.T) {
	ctx := context.Background()
	h, err := identity.NewHasher(identity.Params{}, 1, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	phc, err := h.Hash(ctx, "a hand-made secret that admins chose")
	if err != nil {
		t.Fatal(err)
	}
	mk, err := kms.LoadMasterKey("", testkit.MasterKeyBase64)
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.Open(t, "sqlite")
	kr, err := OpenKeyring(ctx, st.DB, mk)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Clients: []config.Client{{ID: "legacy", SecretHash: phc, GrantTypes: []string{"client_credentials"}}}}
	parts, err := NewAuthParts(cfg, st.DB, kr, &config.Resolved{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if parts.SecretHasher == nil || parts.SecretHasher == parts.Hasher {
		t.Fatal("client secrets share the sign-in hasher")
	}
	signIn, secrets := parts.Hasher.Stats(), parts.SecretHasher.Stats()
	if _, err := parts.Clients.Authenticate(ctx, "legacy", "wrong-guess-0123456789abcdefghijklmnop", true); err == nil {
		t.Fatal("a wrong secret authenticated")
	}
	if got := parts.Hasher.Stats(); got != signIn {
		t.Fatalf("a wrong client secret ran on the sign-in hasher: %+v → %+v", signIn, got)
	}
	if got := parts.SecretHasher.Stats(); got.Hashes != secrets.Hashes+1 {
		t.Fatalf("client-secret hasher %+v → %+v, want one more hash", secrets, got)
	}
}
