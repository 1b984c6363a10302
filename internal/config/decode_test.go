package config

import (
	"fmt"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestDecodeListsEveryProblem: Decode names the line and dotted key of each
// mistake and lists all of them, not only the first (the reference promises
// "every problem listed"). want holds one entry per expected message, in
// file order; every fragment of an entry must appear in that message.
func TestDecodeListsEveryProblem(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want [][]string
	}{
		{"reject/duration-as-number", "tokens:\n  access_token_ttl: 600\n", [][]string{
			{"config: line 2: tokens.access_token_ttl: 600 is a number, not a duration; write it with a unit, like 600s or 10m"},
		}},
		{"reject/duration-as-float", "login: {session_ttl: 1.5}\n", [][]string{
			{"line 1", "login.session_ttl", "1.5 is a number", "1.5s"},
		}},
		{"reject/duration-as-list", "keys:\n  rotation_period: [1h]\n", [][]string{
			{"line 2", "keys.rotation_period", "must be a duration"},
		}},
		{"reject/duration-in-client", "clients:\n  - id: a\n    access_token_ttl: 300\n", [][]string{
			{"line 3", "clients[].access_token_ttl", "300 is a number", "300s or 5m"},
		}},
		{"reject/three-problems-all-listed", "issuer: https://auth.example.com\ntokens:\n  access_token_ttl: 600\nhttp:\n  listen: [a, b]\nlog:\n  levle: debug\n", [][]string{
			{"line 3", "tokens.access_token_ttl", "600 is a number"},
			{"line 5", "http.listen", "single value", "a list"},
			{"line 7", `unknown key "log.levle"`, "format, level"},
		}},
		{"reject/unknown-keys-at-every-depth", "bogus: 1\nhttp:\n  tls:\n    mod: auto\nclients:\n  - {id: a, secret: x}\n", [][]string{
			{"line 1", `unknown key "bogus"`, "at the top level"},
			{"line 4", `unknown key "http.tls.mod"`, "mode"},
			{"line 6", `unknown key "clients[].secret"`, "secret_env"},
		}},
		{"reject/list-where-mapping-expected", "http: [1, 2]\nrate_limits:\n  login_per_ip: [1, 1m]\n", [][]string{
			{"line 1", "http: must be a mapping", "a list"},
			{"line 3", "rate_limits.login_per_ip: must be a mapping"},
		}},
		{"reject/word-where-number-expected", "http: {max_body_bytes: lots}\naudit: {batch_size: 1.5}\n", [][]string{
			{"line 1", "http.max_body_bytes", "whole number", "lots"},
			{"line 2", "audit.batch_size", "whole number", "1.5"},
		}},
		{"reject/number-too-large", "keys: {rsa_bits: 99999999999999999999}\nhttp: {max_body_bytes: 9223372036854775808}\n", [][]string{
			{"line 1", "keys.rsa_bits", "99999999999999999999"},
			{"line 2", "http.max_body_bytes", "too large"},
		}},
		{"reject/word-where-bool-expected", "clients:\n  - id: a\n    public: yes\n", [][]string{
			{"line 3", "clients[].public", "true or false", "yes"},
		}},
		{"reject/word-where-list-expected", "clients:\n  - id: a\n    scopes: openid\n", [][]string{
			{"line 3", "clients[].scopes", "must be a list", "openid"},
		}},
		{"reject/mapping-where-word-expected", "issuer: {a: b}\n", [][]string{
			{"line 1", "issuer", "single value", "a mapping"},
		}},
		{"reject/empty-list-item", "clients:\n  - id: a\n    grant_types:\n      - authorization_code\n      -\n", [][]string{
			{"line 5", "clients[].grant_types", "empty"},
		}},
		{"reject/duplicate-key-names-both-lines", "log: {level: info}\nissuer: https://a.example\nissuer: https://b.example\n", [][]string{
			{"line 3", `"issuer" is set twice`, "first on line 2"},
		}},
		{"reject/alias-in-known-key", "log: &l {level: info}\naudit: *l\n", [][]string{
			{"line 2", "audit", "aliases are not supported"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.yaml))
			if err == nil {
				t.Fatal("Decode accepted the config")
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(tc.want) {
				t.Fatalf("got %d messages, want %d:\n%v", len(got), len(tc.want), err)
			}
			for i, frags := range tc.want {
				for _, f := range frags {
					if !strings.Contains(got[i], f) {
						t.Errorf("message %d %q does not mention %q", i, got[i], f)
					}
				}
			}
		})
	}
}

// TestDecodeCapsTheReport: the wrong file (thousands of unknown keys) gets
// a bounded report that says how many problems it left out.
func TestDecodeCapsTheReport(t *testing.T) {
	var b strings.Builder
	for i := range 200 {
		fmt.Fprintf(&b, "key%d: 1\n", i)
	}
	_, err := Decode([]byte(b.String()))
	if err == nil {
		t.Fatal("Decode accepted the config")
	}
	got := strings.Split(err.Error(), "\n")
	if len(got) != maxProblems+1 || !strings.Contains(got[maxProblems], "and 150 more problems") {
		t.Fatalf("got %d messages, last %q", len(got), got[len(got)-1])
	}
}

// TestDurationRefusesNumbersOutsideDecode: a plain yaml.Unmarshal into the
// configuration (any other decoder of the file) also refuses a bare number.
func TestDurationRefusesNumbersOutsideDecode(t *testing.T) {
	var c Config
	err := yaml.Unmarshal([]byte("tokens:\n  access_token_ttl: 600\n"), &c)
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "600 is a number") {
		t.Fatalf("yaml.Unmarshal: %v", err)
	}
	if err := yaml.Unmarshal([]byte("tokens:\n  access_token_ttl: 10m\n"), &c); err != nil || c.Tokens.AccessTokenTTL.D().Minutes() != 10 {
		t.Fatalf("yaml.Unmarshal 10m: %v, %v", err, c.Tokens.AccessTokenTTL.D())
	}
}

// TestDecodeAcceptsWhatItShould: quoted numbers are strings, an empty value
// leaves the field to Defaults, and anchors (without aliases) are harmless.
func TestDecodeAcceptsWhatItShould(t *testing.T) {
	for name, y := range map[string]string{
		"accept/quoted-number-as-string": "store: {driver: sqlite, dsn: '123'}\nissuer: https://auth.example.com\n",
		"accept/empty-duration":          "tokens:\n  access_token_ttl:\n",
		"accept/anchor-without-alias":    "log: &l {level: info}\n",
		"accept/number-as-string":        "clients:\n  - id: 12345\n",
		"accept/bool-true":               "clients:\n  - {id: a, public: true, skip_consent: false}\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Decode([]byte(y)); err != nil {
				t.Fatalf("Decode: %v", err)
			}
		})
	}
}
