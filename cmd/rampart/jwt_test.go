package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/spf13/cobra"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
)

// TestJWTVerifyAgainstServedJWKS signs a token with Rampart's active signing
// key and verifies it with `rampart jwt verify --jwks <the server's URL>`;
// a token signed by anything else is refused.
func TestJWTVerifyAgainstServedJWKS(t *testing.T) {
	ts := startServer(t, sqlstore.SQLite, config.TLSOff)
	cmd := &cobra.Command{}
	cmd.SetContext(context.Background())
	env, err := openCLI(cmd, ts.cfgPath, needKeys)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close(context.Background())
	active, err := env.Keys.Signer()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(active.SigningKey(), (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", active.KID))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	payload, _ := json.Marshal(map[string]any{"iss": ts.cfg.Issuer, "sub": "svc", "aud": "https://api.example.test",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()})
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	jwks := ts.base + "/.well-known/jwks.json"
	code, out, errs := cli(t, tok, "jwt", "verify", "--jwks", jwks, "--iss", ts.cfg.Issuer, "--aud", "https://api.example.test", "--typ", "at+jwt")
	if code != 0 || !strings.Contains(out, `"sub": "svc"`) {
		t.Fatalf("exit %d stdout %q stderr %q", code, out, errs)
	}
	// The same claims with the signature of another token are refused.
	parts := strings.Split(tok, ".")
	forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	if code, _, errs := cli(t, forged, "jwt", "verify", "--jwks", jwks); code != 1 || !strings.Contains(errs, "bad_signature") {
		t.Fatalf("forged: exit %d stderr %q", code, errs)
	}
}
