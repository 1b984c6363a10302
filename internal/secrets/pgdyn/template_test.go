package pgdyn

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/secrets"
)

func TestCheckTemplate(t *testing.T) {
	for name, tc := range map[string]struct {
		stmts []string
		ok    bool
	}{
		"accept/all-placeholders":    {[]string{"CREATE ROLE {{name}} LOGIN PASSWORD {{password}} VALID UNTIL {{expiration}}"}, true},
		"accept/none":                {nil, true},
		"accept/braces-in-sql":       {[]string{"SELECT '{}'::jsonb, '{a}' FROM x -- }"}, true},
		"reject/unknown":             {[]string{"GRANT {{role}} TO {{name}}"}, false},
		"reject/case":                {[]string{"CREATE ROLE {{Name}}"}, false},
		"reject/spaces":              {[]string{"CREATE ROLE {{ name}}"}, false},
		"reject/unclosed":            {[]string{"CREATE ROLE {{name"}, false},
		"reject/nested":              {[]string{"CREATE ROLE {{{{name}}}}"}, false},
		"reject/empty-placeholder":   {[]string{"CREATE ROLE {{}}"}, false},
		"reject/empty-statement":     {[]string{""}, false},
		"reject/oversized-statement": {[]string{strings.Repeat("x", maxStatementLen+1)}, false},
		"reject/too-many-statements": {make([]string, maxStatements+1), false},
	} {
		t.Run(name, func(t *testing.T) {
			if err := CheckTemplate(tc.stmts); (err == nil) != tc.ok {
				t.Fatalf("CheckTemplate: %v", err)
			}
		})
	}
}

func TestRender(t *testing.T) {
	v := vars{name: `"rampart_x"`, password: `'pw'`, expiration: `'2026-01-01 00:00:00.000000+00'`}
	got, err := render("CREATE ROLE {{name}} PASSWORD {{password}} VALID UNTIL {{expiration}}; -- {{name}}", v)
	if err != nil || got != `CREATE ROLE "rampart_x" PASSWORD 'pw' VALID UNTIL '2026-01-01 00:00:00.000000+00'; -- "rampart_x"` {
		t.Fatalf("render: %q %v", got, err)
	}
	// A value is never rescanned: one that looks like a placeholder stays.
	if got, err := render("{{name}}", vars{name: "{{password}}", password: "'x'"}); err != nil || got != "{{password}}" {
		t.Fatalf("rescan: %q %v", got, err)
	}
	if _, err := render("{{password}}", vars{name: "n"}); err == nil {
		t.Fatal("an empty value rendered")
	}
}

func TestGeneratedValues(t *testing.T) {
	p, _ := secrets.ParsePath("db/app/ro")
	re := regexp.MustCompile(`^rampart_[0-9a-f]{8}_[0-9a-f]{16}$`)
	seen := map[string]bool{}
	for range 100 {
		n, err := newName(p)
		if err != nil || !re.MatchString(n) || len(n) > 63 || !strings.HasPrefix(n, NamePrefix(p)) || seen[n] {
			t.Fatalf("name %q %v", n, err)
		}
		seen[n] = true
		pw, err := newPassword()
		if err != nil || len(pw) != 43 {
			t.Fatalf("password length %d %v", len(pw), err)
		}
		if _, err := quoteLiteral(pw); err != nil {
			t.Fatal(err)
		}
		id, _ := newID()
		if !validID(id) {
			t.Fatalf("id %q", id)
		}
	}
	for _, bad := range []string{"rampart_0000000_00000000000000000", "Rampart_00000000_0000000000000000", `rampart_00000000_000000000000000"`, ""} {
		if validName(bad) {
			t.Fatalf("validName(%q)", bad)
		}
	}
	if l := expirationLiteral(time.Date(2026, 12, 4, 20, 1, 2, 345678999, time.FixedZone("x", 3600))); l != "2026-12-04 19:01:02.345678+00" {
		t.Fatalf("expiration %q", l)
	}
	for _, bad := range []string{"a'b", `a\b`, "a\nb", "a;b", "é"} {
		if _, err := quoteLiteral(bad); err == nil {
			t.Fatalf("quoteLiteral(%q) accepted", bad)
		}
	}
}

// FuzzCheckTemplate: whatever CheckTemplate accepts renders; the output
// holds the values where the template held placeholders and no "{{"
// that the template did not hold as literal text; what it refuses never
// renders to SQL without error on the unknown placeholder.
func FuzzCheckTemplate(f *testing.F) {
	for _, s := range []string{"CREATE ROLE {{name}} LOGIN PASSWORD {{password}} VALID UNTIL {{expiration}}",
		"{{", "}}", "{{}}", "{{name", "{{{{name}}}}", "{{ name }}", "x{{password}}y{{nope}}", "SELECT '{a}'"} {
		f.Add(s)
	}
	v := vars{name: `"N"`, password: `'P'`, expiration: `'E'`}
	f.Fuzz(func(t *testing.T, s string) {
		err := CheckTemplate([]string{s})
		out, rerr := render(s, v)
		if err == nil && strings.TrimSpace(s) != "" && len(s) <= maxStatementLen {
			if rerr != nil {
				t.Fatalf("accepted %q but render failed: %v", s, rerr)
			}
			want := strings.NewReplacer("{{name}}", `"N"`, "{{password}}", `'P'`, "{{expiration}}", `'E'`).Replace(s)
			if out != want {
				t.Fatalf("render(%q) = %q, want %q", s, out, want)
			}
		}
		if rerr == nil && strings.Contains(s, "{{") {
			if _, perr := placeholders(s); perr != nil {
				t.Fatalf("render accepted %q that placeholders refuses", s)
			}
		}
	})
}
