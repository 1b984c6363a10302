package agent

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	ok := Config{Server: "https://127.0.0.1:8443", JoinTokenFile: "/t", OutDir: "/o"}
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string // substring of the usage error; "" for valid
	}{
		{"ok/token-out", func(*Config) {}, ""},
		{"ok/socket-only", func(c *Config) { c.OutDir, c.Socket = "", "/s" }, ""},
		{"ok/client", func(c *Config) { c.JoinTokenFile, c.ClientID, c.ClientSecretFile = "", "id", "/f" }, ""},
		{"ok/metrics-loopback", func(c *Config) { c.MetricsListen = "127.0.0.1:9090" }, ""},
		{"ok/metrics-v6-loopback", func(c *Config) { c.MetricsListen = "[::1]:9090" }, ""},
		{"ok/spiffe-id", func(c *Config) { c.SPIFFEID = svcA }, ""},
		{"reject/no-server", func(c *Config) { c.Server = "" }, "--server URL is required"},
		{"reject/http-server", func(c *Config) { c.Server = "http://127.0.0.1:8443" }, "https"},
		{"reject/server-query", func(c *Config) { c.Server = "https://h/?x=1" }, "https"},
		{"reject/server-userinfo", func(c *Config) { c.Server = "https://u:p@h/" }, "https"},
		{"reject/no-credential", func(c *Config) { c.JoinTokenFile = "" }, "credential is required"},
		{"reject/two-credentials", func(c *Config) { c.ClientID, c.ClientSecretFile = "id", "/f" }, "not both"},
		{"reject/client-without-secret", func(c *Config) { c.JoinTokenFile, c.ClientID = "", "id" }, "go together"},
		{"reject/secret-without-client", func(c *Config) { c.JoinTokenFile, c.ClientSecretFile = "", "/f" }, "go together"},
		{"reject/no-out-no-socket", func(c *Config) { c.OutDir = "" }, "--out DIR is required"},
		{"reject/non-canonical-id", func(c *Config) { c.SPIFFEID = "spiffe://Example.test/a" }, "--spiffe-id"},
		{"reject/id-trailing-slash", func(c *Config) { c.SPIFFEID = "spiffe://example.test/a/" }, "--spiffe-id"},
		{"reject/key-type", func(c *Config) { c.KeyType = "rsa-2048" }, "--key-type"},
		{"reject/metrics-public", func(c *Config) { c.MetricsListen = "0.0.0.0:9090" }, "loopback only"},
		{"reject/metrics-no-port", func(c *Config) { c.MetricsListen = "127.0.0.1" }, "--metrics-listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.change(&c)
			_, err := c.validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !isErr[*UsageError](err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("validate = %v, want a usage error with %q", err, tc.want)
			}
		})
	}
}

func TestParseJoinToken(t *testing.T) {
	b32 := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	pin := base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("p", 32)))
	for _, tc := range []struct {
		name string
		tok  string
		ok   bool
	}{
		{"ok", "rjt1." + b32 + "." + pin, true},
		{"reject/prefix", "rjt2." + b32 + "." + pin, false},
		{"reject/two-parts", "rjt1." + b32, false},
		{"reject/four-parts", "rjt1." + b32 + "." + pin + ".x", false},
		{"reject/padded", "rjt1." + b32 + "=." + pin, false},
		{"reject/std-alphabet", "rjt1." + strings.Repeat("+", 43) + "." + pin, false},
		{"reject/short-pin", "rjt1." + b32 + ".AAAA", false},
		{"reject/empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parseJoinToken(tc.tok)
			if tc.ok != (err == nil) {
				t.Fatalf("parseJoinToken: %v", err)
			}
			if tc.ok && string(p) != strings.Repeat("p", 32) {
				t.Fatalf("pin %q", p)
			}
		})
	}
}

// TestClientCredentialEncoding: id and secret are form-urlencoded before
// Basic (RFC 6749 §2.3.1), so a ':' in either cannot shift the split.
func TestClientCredentialEncoding(t *testing.T) {
	c := clientCredential("a:b c", "p%:w+")
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(c.authorization, "Basic "))
	if err != nil {
		t.Fatal(err)
	}
	user, pass, _ := strings.Cut(string(raw), ":")
	u, _ := url.QueryUnescape(user)
	p, _ := url.QueryUnescape(pass)
	if u != "a:b c" || p != "p%:w+" || !c.reusable {
		t.Fatalf("decoded %q %q", u, p)
	}
}
