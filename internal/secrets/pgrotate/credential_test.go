package pgrotate

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-auth/rampart/internal/secrets"
)

const pwSample = "s3cr3t-PASSWORD-value"

func TestParseCredential(t *testing.T) {
	ok := []struct{ name, in, user, pw string }{
		{"accept/plain", `{"username":"app","password":"` + pwSample + `"}`, "app", pwSample},
		{"accept/reordered-spaces", " {\n \"password\" : \"p\" , \"username\":\"a\"}\n", "a", "p"},
		{"accept/escapes", `{"username":"a\"b","password":"\u00e9\\"}`, `a"b`, "é\\"},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseCredential(secrets.NewValue([]byte(c.in)))
			if err != nil {
				t.Fatal(err)
			}
			if got.Username != c.user || string(got.Password.Bytes()) != c.pw {
				t.Fatalf("got %q", got.Username)
			}
		})
	}
	bad := []struct{ name, in string }{
		{"reject/empty", ``},
		{"reject/not-object", `["app","` + pwSample + `"]`},
		{"reject/string", `"` + pwSample + `"`},
		{"reject/unknown-member", `{"username":"app","password":"` + pwSample + `","host":"x"}`},
		{"reject/duplicate-username", `{"username":"app","password":"` + pwSample + `","username":"postgres"}`},
		{"reject/duplicate-password", `{"username":"app","password":"` + pwSample + `","password":"x"}`},
		{"reject/missing-password", `{"username":"app"}`},
		{"reject/missing-username", `{"password":"` + pwSample + `"}`},
		{"reject/empty-username", `{"username":"","password":"` + pwSample + `"}`},
		{"reject/number", `{"username":"app","password":12345678}`},
		{"reject/null", `{"username":"app","password":null}`},
		{"reject/nested", `{"username":{"a":1},"password":"` + pwSample + `"}`},
		{"reject/trailing-object", `{"username":"app","password":"` + pwSample + `"}{}`},
		{"reject/trailing-garbage", `{"username":"app","password":"` + pwSample + `"} x`},
		{"reject/truncated", `{"username":"app","password":"` + pwSample},
		{"reject/nul", `{"username":"app\u0000","password":"` + pwSample + `"}`},
		{"reject/invalid-utf8", "{\"username\":\"app\xff\",\"password\":\"" + pwSample + "\"}"},
		{"reject/long-username", `{"username":"` + strings.Repeat("u", 64) + `","password":"` + pwSample + `"}`},
		{"reject/long-password", `{"username":"app","password":"` + strings.Repeat("p", 1025) + `"}`},
		{"reject/huge", `{"username":"app","password":"` + strings.Repeat("p", 5000) + `"}`},
		{"reject/bad-syntax-quoting-value", `{"username":"app","password":"` + pwSample + `"` + pwSample + `}`},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseCredential(secrets.NewValue([]byte(c.in)))
			if !errors.Is(err, ErrCredential) {
				t.Fatalf("err = %v, want ErrCredential", err)
			}
			if strings.Contains(err.Error(), pwSample) || strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("the error quotes the value: %v", err)
			}
		})
	}
}

func TestCredentialValueRoundTrip(t *testing.T) {
	c := Credential{Username: `we"ird;user`, Password: secrets.NewValue([]byte(pwSample))}
	v, err := c.Value()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseCredential(v)
	if err != nil {
		t.Fatal(err)
	}
	if back.Username != c.Username || !back.Password.Equal(c.Password) {
		t.Fatal("round trip changed the credential")
	}
	if s := fmt.Sprintf("%v %+v %s", back, back, v); strings.Contains(s, pwSample) {
		t.Fatalf("printing a credential shows the password: %s", s)
	}
	if _, err := (Credential{Username: "a"}).Value(); err == nil {
		t.Fatal("a credential without password encoded")
	}
}

func TestConnConfigReplacesOnlyTheLogin(t *testing.T) {
	base, err := pgx.ParseConfig("postgres://admin:adminpw@db.example:6543/app?sslmode=disable&application_name=x")
	if err != nil {
		t.Fatal(err)
	}
	cc := Credential{Username: "app_a", Password: secrets.NewValue([]byte(pwSample))}.ConnConfig(base)
	if cc.User != "app_a" || cc.Password != pwSample || cc.Host != "db.example" || cc.Port != 6543 || cc.Database != "app" {
		t.Fatalf("conn config %s@%s:%d/%s", cc.User, cc.Host, cc.Port, cc.Database)
	}
	if base.User != "admin" || base.Password != "adminpw" {
		t.Fatal("the base config was changed")
	}
}

var alphabet = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

func TestNewPasswordAlphabetAndEntropy(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		pw, err := newPassword(randReader{})
		if err != nil {
			t.Fatal(err)
		}
		if !alphabet.Match(pw) || !generated(pw) {
			t.Fatalf("password outside the base64url alphabet or length: %d bytes", len(pw))
		}
		if seen[string(pw)] {
			t.Fatal("a password repeated")
		}
		seen[string(pw)] = true
	}
	// Every character of the alphabet shows up (no bias to a subset).
	all := ""
	for p := range seen {
		all += p
	}
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		if !strings.ContainsRune(all, rune(c)) {
			t.Fatalf("character %q never generated", c)
		}
	}
	if _, err := newPassword(bytes.NewReader(make([]byte, 5))); err == nil {
		t.Fatal("a short read made a password")
	}
}

func TestGeneratedRefusesOtherShapes(t *testing.T) {
	good, _ := newPassword(randReader{})
	for name, pw := range map[string]string{
		"quote":     string(good[:42]) + "'",
		"backslash": string(good[:42]) + `\`,
		"short":     string(good[:42]),
		"long":      string(good) + "A",
		"padding":   string(good[:42]) + "=",
		"space":     string(good[:42]) + " ",
		"nul":       string(good[:42]) + "\x00",
	} {
		if generated([]byte(pw)) {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseCredential(f *testing.F) {
	for _, s := range []string{
		`{"username":"app","password":"pw"}`, `{"username":"a","password":"b","username":"c"}`,
		`{}`, `[]`, `{"username":1}`, "{\"username\":\"\xff\"}", `{"password":"p","username":"u"} `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := ParseCredential(secrets.NewValue(in))
		if err != nil {
			if !errors.Is(err, ErrCredential) {
				t.Fatalf("error not ErrCredential: %v", err)
			}
			if len(in) >= 12 && strings.Contains(err.Error(), string(in)) {
				t.Fatal("the error quotes the value")
			}
			return
		}
		if c.Username == "" || c.Password.Len() == 0 {
			t.Fatal("accepted an empty member")
		}
		v, err := c.Value()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		back, err := ParseCredential(v)
		if err != nil || back.Username != c.Username || !back.Password.Equal(c.Password) {
			t.Fatalf("re-parse differs: %v", err)
		}
	})
}
