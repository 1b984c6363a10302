package config

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestValidateClientValues: the syntax checks that used to run only when
// serve loaded the clients (oauth) now run in Validate, so `config check`
// refuses them before any side effect (issue 10, item 14).
func TestValidateClientValues(t *testing.T) {
	const code = "{id: web, public: true, grant_types: [authorization_code], redirect_uris: ['%s'], scopes: ['%s']%s}"
	cases := []struct {
		name, client string
		want         []string
	}{
		{"reject/redirect-fragment-off-loopback", fmt.Sprintf(code, "http://evil.example.com/cb#frag", "openid", ""), []string{"redirect_uris[0]", "fragment"}},
		{"reject/redirect-http-off-loopback", fmt.Sprintf(code, "http://evil.example.com/cb", "openid", ""), []string{"redirect_uris[0]", "loopback"}},
		{"reject/redirect-wildcard", fmt.Sprintf(code, "https://*.example.com/cb", "openid", ""), []string{"wildcards"}},
		{"reject/redirect-javascript", fmt.Sprintf(code, "javascript:alert(1)", "openid", ""), []string{"javascript scheme"}},
		{"reject/redirect-relative", fmt.Sprintf(code, "/cb", "openid", ""), []string{"not an absolute URI"}},
		{"reject/redirect-userinfo", fmt.Sprintf(code, "https://u:p@a.example/cb", "openid", ""), []string{"user info"}},
		{"reject/scope-with-quote-and-space", fmt.Sprintf(code, "https://a.example/cb", `bad scope"x`, ""), []string{"scopes[0]", "not a scope"}},
		{"reject/scope-backslash", fmt.Sprintf(code, "https://a.example/cb", `a\\b`, ""), []string{"not a scope"}},
		{"reject/audience-space", fmt.Sprintf(code, "https://a.example/cb", "openid", ", audience: ['https://a b']"), []string{"audience[0]", "spaces"}},
		{"reject/audience-empty", fmt.Sprintf(code, "https://a.example/cb", "openid", ", audience: ['']"), []string{"audience[0]"}},
		{"reject/secret-hash-malformed", "{id: svc, secret_hash: '$argon2id$v=19$m=1,t=1,p=1$x$y', grant_types: [client_credentials]}", []string{"secret_hash", "not a valid argon2id"}},
		{"reject/secret-env-not-a-name", "{id: svc, secret_env: 'MY SECRET', grant_types: [client_credentials]}", []string{"secret_env", "not an environment variable name"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte("clients: [" + tc.client + "]\n"))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	// Both problems of the example are reported at once.
	_, err := Parse([]byte("clients: [" + fmt.Sprintf(code, "http://evil.example.com/cb#frag", `bad scope"x`, "") + "]\n"))
	if err == nil || !strings.Contains(err.Error(), "redirect_uris[0]") || !strings.Contains(err.Error(), "scopes[0]") {
		t.Fatalf("want both problems, got %v", err)
	}
	good := fmt.Sprintf(code, "http://127.0.0.1:9999/cb", "notes:read", ", audience: ['https://api.example.test']")
	if _, err := Parse([]byte("clients: [" + good + "]\n")); err != nil {
		t.Fatalf("accept/good-client: %v", err)
	}
}

// fakeEnv is an Env over maps that counts reads.
type fakeEnv struct {
	vars  map[string]string
	files map[string]string
	reads map[string]int
}

func (f *fakeEnv) env() Env {
	f.reads = map[string]int{}
	read := func(p string) ([]byte, error) {
		f.reads[p]++
		b, ok := f.files[p]
		if !ok {
			return nil, fmt.Errorf("%s does not exist: %w", p, os.ErrNotExist)
		}
		return []byte(b), nil
	}
	return Env{
		Getenv:          func(k string) string { f.reads["$"+k]++; return f.vars[k] },
		ReadFile:        read,
		ReadPrivateFile: read,
	}
}

const resolveYAML = `
issuer: https://auth.example.com
store: {driver: postgres, dsn_env: PG_DSN}
redis: {url_env: REDIS_URL}
master_key_file: /k/master.key
clients:
  - {id: svc, secret_env: SVC_SECRET, grant_types: [client_credentials]}
  - {id: web, public: true, grant_types: [authorization_code], redirect_uris: ['https://a.example/cb']}
`

func TestResolve(t *testing.T) {
	cfg, err := Parse([]byte(resolveYAML))
	if err != nil {
		t.Fatal(err)
	}
	full := &fakeEnv{
		vars:  map[string]string{"PG_DSN": "postgres://u:pw@db/r", "REDIS_URL": "redis://r:6379/0", "SVC_SECRET": strings.Repeat("s", 32)},
		files: map[string]string{"/k/master.key": "KEY"},
	}
	t.Run("accept/everything-set", func(t *testing.T) {
		res, err := cfg.Resolve(full.env(), NeedAll)
		if err != nil {
			t.Fatal(err)
		}
		if res.StoreDSN != "postgres://u:pw@db/r" || res.RedisURL != "redis://r:6379/0" || string(res.MasterKey) != "KEY" || res.ClientSecrets["svc"] != strings.Repeat("s", 32) {
			t.Fatalf("resolved %+v", res)
		}
		for k, n := range full.reads {
			if n != 1 {
				t.Errorf("%s read %d times, want once", k, n)
			}
		}
	})
	t.Run("reject/every-problem-at-once", func(t *testing.T) {
		empty := &fakeEnv{vars: map[string]string{"SVC_SECRET": "short"}}
		_, err := cfg.Resolve(empty.env(), NeedAll)
		if err == nil {
			t.Fatal("resolved with nothing set")
		}
		for _, w := range []string{"store.dsn_env", "PG_DSN", "redis.url_env", "REDIS_URL", "master_key_file", "/k/master.key", "clients[0] (svc).secret_env", "5 characters"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error does not mention %q:\n%v", w, err)
			}
		}
		if strings.Contains(err.Error(), "short") {
			t.Error("the error quotes a secret")
		}
	})
	t.Run("accept/store-only-ignores-unset-secrets", func(t *testing.T) {
		// 18a: `client list` and `user create` must not need client secrets.
		e := &fakeEnv{vars: map[string]string{"PG_DSN": "postgres://db/r"}}
		res, err := cfg.Resolve(e.env(), Needs{Store: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.StoreDSN != "postgres://db/r" || res.ClientSecrets != nil || res.MasterKey != nil {
			t.Fatalf("resolved more than asked: %+v", res)
		}
		if e.reads["$SVC_SECRET"] != 0 || e.reads["$REDIS_URL"] != 0 || e.reads["/k/master.key"] != 0 {
			t.Fatalf("read what was not needed: %v", e.reads)
		}
	})
	t.Run("reject/redis-needed-but-unset", func(t *testing.T) {
		// 15: a command that revokes needs the shared deny list; an unset
		// url_env is an error, never "no Redis".
		e := &fakeEnv{vars: map[string]string{"PG_DSN": "postgres://db/r"}}
		_, err := cfg.Resolve(e.env(), Needs{Store: true, Redis: true})
		if err == nil || !strings.Contains(err.Error(), "REDIS_URL") {
			t.Fatalf("want an error naming REDIS_URL, got %v", err)
		}
	})
	t.Run("reject/redis-env-not-a-url", func(t *testing.T) {
		e := &fakeEnv{vars: map[string]string{"REDIS_URL": "http://u:secretpw@r"}}
		_, err := cfg.Resolve(e.env(), Needs{Redis: true})
		if err == nil || !strings.Contains(err.Error(), "not hold a redis URL") || strings.Contains(err.Error(), "secretpw") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("reject/tls-files-missing", func(t *testing.T) {
		c, err := Parse([]byte("issuer: https://auth.example.com\nhttp: {tls: {mode: files, cert_file: /c.pem, key_file: /k.pem}}\n"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Resolve((&fakeEnv{}).env(), Needs{TLSFiles: true})
		if err == nil || !strings.Contains(err.Error(), "http.tls.cert_file") || !strings.Contains(err.Error(), "http.tls.key_file") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("accept/dev-key-not-yet-generated", func(t *testing.T) {
		c := Dev()
		res, err := c.Resolve((&fakeEnv{}).env(), Needs{MasterKey: true})
		if err != nil || res.MasterKey != nil || !strings.HasSuffix(res.DevMasterKeyFile, DevMasterKeyName) {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("reject/incomplete-env", func(t *testing.T) {
		if _, err := cfg.Resolve(Env{}, NeedAll); err == nil {
			t.Fatal("accepted an Env without functions")
		}
	})
}
