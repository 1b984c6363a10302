package jwtcli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/rampart-auth/rampart/jwtauth/jwtauthtest"
)

func init() { now = func() time.Time { return jwtauthtest.Now } }

// execute runs `jwt <args>` with stdin and returns exit code, stdout, stderr.
func execute(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := Command()
	var out, errb bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	err := cmd.ExecuteContext(context.Background())
	code := 0
	if err != nil {
		ec, ok := err.(interface{ ExitCode() int })
		if !ok {
			t.Fatalf("error without exit code: %v", err)
		}
		code = ec.ExitCode()
	}
	return code, out.String(), errb.String()
}

// files writes the battery's public keys as a JWK Set and as single JWKs.
type files struct{ dir, jwks, ecKey, ecNoAlg, rsaKey, weakKey, encKey string }

func writeKeys(t *testing.T) files {
	k := jwtauthtest.Generate(t)
	dir := t.TempDir()
	w := func(name string, v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pub := func(key any, kid, alg, use string) jose.JSONWebKey {
		return jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg, Use: use}
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		pub(&k.EC.PublicKey, "ec1", "ES256", "sig"),
		pub(k.Ed.Public(), "ed1", "EdDSA", "sig"),
		pub(&k.RSA.PublicKey, "rsa1", "RS256", "sig"),
	}}
	return files{
		dir:     dir,
		jwks:    w("jwks.json", set),
		ecKey:   w("ec.jwk", pub(&k.EC.PublicKey, "ec1", "ES256", "")),
		ecNoAlg: w("ec-noalg.jwk", pub(&k.EC.PublicKey, "ec1", "", "")),
		rsaKey:  w("rsa-noalg.jwk", pub(&k.RSA.PublicKey, "rsa1", "", "")),
		weakKey: w("weak.jwk", pub(&k.RSAWeak.PublicKey, "weak", "RS256", "")),
		encKey:  w("enc.jwk", pub(&k.RSA.PublicKey, "rsa1", "RS256", "enc")),
	}
}

// TestAttackBatteryThroughCLI runs the jwtauth attack battery through
// `rampart jwt verify`: every token exits 1 naming the expected reason.
func TestAttackBatteryThroughCLI(t *testing.T) {
	f := writeKeys(t)
	for _, tc := range jwtauthtest.Battery(t) {
		if tc.Token == "" {
			continue // empty stdin is a usage error (exit 2), tested in TestVerifyCLI
		}
		t.Run(tc.Name, func(t *testing.T) {
			code, out, errs := execute(t, tc.Token+"\n", "verify", "--jwks", f.jwks,
				"--iss", jwtauthtest.Issuer, "--aud", jwtauthtest.Audience, "--typ", "at+jwt")
			if code != ExitInvalid {
				t.Fatalf("exit %d, want 1; stdout %q stderr %q", code, out, errs)
			}
			if !strings.HasPrefix(errs, "invalid token: "+tc.Reason+": ") || strings.Count(errs, "\n") != 1 {
				t.Fatalf("stderr %q is not one line naming reason %q", errs, tc.Reason)
			}
			if out != "" {
				t.Fatalf("stdout not empty on failure: %q", out)
			}
			if len(tc.Token) > 40 && strings.Contains(errs, tc.Token) {
				t.Fatal("the token is echoed on stderr")
			}
		})
	}
}

// TestKeyAttackBatteryThroughCLI runs the key-policy attacks through both
// --key (the JWK alone) and --jwks (a set holding only it): exit 1 with the
// expected reason on one stderr line.
func TestKeyAttackBatteryThroughCLI(t *testing.T) {
	dir := t.TempDir()
	for i, tc := range jwtauthtest.KeyBattery(t) {
		keyFile := filepath.Join(dir, fmt.Sprintf("key%d.jwk", i))
		setFile := filepath.Join(dir, fmt.Sprintf("set%d.json", i))
		if err := os.WriteFile(keyFile, []byte(tc.JWK), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(setFile, []byte(`{"keys":[`+tc.JWK+`]}`), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, flag := range []string{"--key", "--jwks"} {
			file := keyFile
			if flag == "--jwks" {
				file = setFile
			}
			t.Run(tc.Name+"/"+strings.TrimPrefix(flag, "--"), func(t *testing.T) {
				code, out, errs := execute(t, tc.Token, "verify", flag, file,
					"--iss", jwtauthtest.Issuer, "--aud", jwtauthtest.Audience, "--typ", "at+jwt")
				if code != ExitInvalid || out != "" {
					t.Fatalf("exit %d, want 1; stdout %q stderr %q", code, out, errs)
				}
				if !strings.HasPrefix(errs, "invalid token: "+tc.Reason+": ") || strings.Count(errs, "\n") != 1 {
					t.Fatalf("stderr %q is not one line naming reason %q", errs, tc.Reason)
				}
			})
		}
	}
}

func TestVerifyCLI(t *testing.T) {
	f := writeKeys(t)
	k := jwtauthtest.Generate(t)
	good := jwtauthtest.GoodClaims()
	es := jwtauthtest.Token(t, jwtauthtest.ES256, k.EC, "ec1", good)
	ed := jwtauthtest.Token(t, jwtauthtest.EdDSA, k.Ed, "ed1", good)
	rs := jwtauthtest.Token(t, jwtauthtest.RS256, k.RSA, "rsa1", good)
	idToken := jwtauthtest.Compact(t, jwtauthtest.ES256, k.EC, jwtauthtest.MustJSON(t, map[string]any{"alg": "ES256", "kid": "ec1", "typ": "JWT"}), jwtauthtest.MustJSON(t, good))

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		b, _ := os.ReadFile(f.jwks)
		_, _ = w.Write(b)
	}))
	defer srv.Close()

	cases := []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string // in stdout (exit 0) or stderr
	}{
		{"accept/es256-jwks-file", es, []string{"--jwks", f.jwks, "--iss", jwtauthtest.Issuer, "--aud", jwtauthtest.Audience, "--typ", "at+jwt"}, 0, `"sub": "user-1"`},
		{"accept/eddsa-jwks-file", ed, []string{"--jwks", f.jwks}, 0, `"sub": "user-1"`},
		{"accept/es256-key-file", es, []string{"--key", f.ecKey}, 0, `"sub": "user-1"`},
		{"accept/rs256-key-file-with-alg-flag", rs, []string{"--key", f.rsaKey, "--alg", "RS256"}, 0, `"sub": "user-1"`},
		{"accept/no-typ-flag-skips-typ", idToken, []string{"--jwks", f.jwks}, 0, `"sub": "user-1"`},
		{"accept/jwks-url-loopback", es, []string{"--jwks", srv.URL}, 0, `"sub": "user-1"`},
		{"reject/typ-flag-checks-typ", idToken, []string{"--jwks", f.jwks, "--typ", "at+jwt"}, 1, "wrong_type"},
		{"reject/wrong-iss", es, []string{"--jwks", f.jwks, "--iss", "https://other.example"}, 1, "wrong_issuer"},
		{"reject/wrong-aud", es, []string{"--jwks", f.jwks, "--aud", "https://other.example"}, 1, "wrong_audience"},
		{"reject/alg-flag-excludes-token-alg", rs, []string{"--jwks", f.jwks, "--alg", "ES256"}, 1, "alg_not_allowed"},
		{"reject/1024-bit-rsa-key", rs, []string{"--key", f.weakKey}, 1, "bad_key"},
		{"reject/use-enc-jwk", rs, []string{"--key", f.encKey}, 1, "bad_key"},
		{"reject/key-alg-differs-from-alg-flag", es, []string{"--key", f.ecKey, "--alg", "ES384"}, 1, "bad_key"},
		{"reject/oversized-stdin", strings.Repeat("a", 70<<10), []string{"--jwks", f.jwks}, 1, "too_large"},
		{"usage/no-stdin", "  \n", []string{"--jwks", f.jwks}, 2, "no token on stdin"},
		{"usage/both-jwks-and-key", es, []string{"--jwks", f.jwks, "--key", f.ecKey}, 2, "exactly one"},
		{"usage/neither", es, nil, 2, "exactly one"},
		{"usage/jwk-without-alg", es, []string{"--key", f.ecNoAlg}, 2, "pass --alg"},
		{"usage/unknown-flag", es, []string{"--jwks", f.jwks, "--bogus"}, 2, "unknown flag"},
		{"usage/unknown-alg", es, []string{"--jwks", f.jwks, "--alg", "none"}, 2, "unknown --alg"},
		{"usage/missing-key-file", es, []string{"--key", filepath.Join(f.dir, "nope.jwk")}, 2, "cannot open"},
		{"usage/not-a-jwks", es, []string{"--jwks", f.ecKey}, 2, "not a JWK Set"},
		{"usage/http-jwks-not-loopback", es, []string{"--jwks", "http://auth.example.test/jwks.json"}, 2, ""},
		{"usage/positional-arg", es, []string{"--jwks", f.jwks, "extra"}, 2, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := execute(t, tc.stdin, append([]string{"verify"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tc.code, out, errs)
			}
			where := errs
			if code == 0 {
				where = out
				var m map[string]any
				if err := json.Unmarshal([]byte(out), &m); err != nil {
					t.Fatalf("stdout is not JSON: %v", err)
				}
			}
			if !strings.Contains(where, tc.want) {
				t.Fatalf("output %q lacks %q", where, tc.want)
			}
		})
	}
}
