package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/rampart-auth/rampart/internal/testkit"
)

func TestFlagsDefaults(t *testing.T) {
	c, err := parseFlags([]string{"-issuer", "http://127.0.0.1:8080/"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.listen != "127.0.0.1:9001" || c.jwks != "http://127.0.0.1:8080/.well-known/jwks.json" ||
		c.audience != "http://127.0.0.1:9001" || c.db != "notes.db" {
		t.Fatalf("defaults %+v", c)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"-nope"}, {"extra"}, {"-listen"}} {
		var stderr bytes.Buffer
		if code := run(args, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr.String())
		}
	}
	if code := run([]string{"-h"}, io.Discard); code != 0 {
		t.Errorf("-h: exit %d", code)
	}
}

func TestRefusedSettings(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for name, c := range map[string]config{
		"public-listen":  {listen: "0.0.0.0:9001", issuer: "http://127.0.0.1:1", jwks: "http://127.0.0.1:1/j", audience: "http://127.0.0.1:9001"},
		"all-interfaces": {listen: ":9001", issuer: "http://127.0.0.1:1", jwks: "http://127.0.0.1:1/j", audience: "http://127.0.0.1:9001"},
		"jwks-plain-http": {listen: "127.0.0.1:0", issuer: "https://auth.example.test", jwks: "http://auth.example.test/jwks",
			audience: "http://127.0.0.1:9001"},
		"empty-postgres-env": {listen: "127.0.0.1:0", issuer: "http://127.0.0.1:1", jwks: "http://127.0.0.1:1/j",
			audience: "http://127.0.0.1:9001", postgresEnv: "NOTES_TEST_UNSET_VARIABLE"},
		"empty-redis-env": {listen: "127.0.0.1:0", issuer: "http://127.0.0.1:1", jwks: "http://127.0.0.1:1/j",
			audience: "http://127.0.0.1:9001", redisEnv: "NOTES_TEST_UNSET_VARIABLE"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := serve(context.Background(), c, log); err == nil {
				t.Fatal("serve accepted it")
			}
		})
	}
}

// TestServe starts the command on a free loopback port against a JWKS
// server, checks that /healthz answers and the API refuses a request
// without an assertion, and stops it with its context.
func TestServe(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &priv.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(set) }))
	defer jwks.Close()

	addr := testkit.FreeAddr(t)
	c, err := parseFlags([]string{"-listen", addr, "-issuer", jwks.URL, "-db", filepath.Join(t.TempDir(), "n.db")}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, c, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	base := "http://" + addr
	testkit.WaitFor(t, "notes to listen", 10*time.Second, func() bool {
		res, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		_ = res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	res, err := http.Get(base + "/api/notes")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "invalid_assertion") {
		t.Fatalf("no assertion: %d %s", res.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}
