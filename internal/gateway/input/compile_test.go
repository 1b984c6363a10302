package input

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

func writeSchema(t *testing.T, doc string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "schema.json")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCompileRefusesRemoteRefs performs the attack: a schema whose $ref
// or $schema points at the network or at a local file must not compile,
// and nothing is fetched.
func TestCompileRefusesRemoteRefs(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{"type":"string"}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	sibling := filepath.Join(dir, "other.json")
	if err := os.WriteFile(sibling, []byte(`{"type":"string"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"http-ref":        `{"$ref":"` + srv.URL + `/s.json"}`,
		"http-nested-ref": `{"properties":{"a":{"$ref":"` + srv.URL + `/s.json#/x"}}}`,
		"file-passwd":     `{"$ref":"file:///etc/passwd"}`,
		"sibling-file":    `{"$ref":"other.json"}`,
		"absolute-file":   `{"$ref":"file://` + filepath.ToSlash(sibling) + `"}`,
		"remote-$schema":  `{"$schema":"` + srv.URL + `/meta.json","type":"object"}`,
		"remote-$id-base": `{"$id":"` + srv.URL + `/base/","$ref":"s.json"}`,
	}
	for name, doc := range cases {
		t.Run("reject/"+name, func(t *testing.T) {
			path := filepath.Join(dir, name+".json")
			if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Compile(Spec{JSONSchema: path})
			if err == nil {
				t.Fatal("compiled")
			}
			if !strings.Contains(err.Error(), "loading is disabled") {
				t.Errorf("not refused by the loader: %v", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("the error does not name the schema file: %v", err)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the compiler fetched %d URLs", n)
	}
}

func TestCompileLocalRefsAndDrafts(t *testing.T) {
	doc := `{"$defs":{"name":{"type":"string","maxLength":3}},"type":"object","properties":{"n":{"$ref":"#/$defs/name"}}}`
	r := mustCompile(t, Spec{JSONSchema: writeSchema(t, doc)})
	_, p := r.Check(jsonReq(`{"n":"toolong"}`))
	wantStatus(t, p, 422)
	// $schema chooses the draft: in draft-04 exclusiveMaximum is a boolean.
	d4 := mustCompile(t, Spec{JSONSchema: writeSchema(t, `{"$schema":"http://json-schema.org/draft-04/schema#","type":"integer","maximum":5,"exclusiveMaximum":true}`)})
	_, p = d4.Check(jsonReq(`5`))
	wantStatus(t, p, 422)
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		name string
		spec Spec
		want string
	}{
		{"negative-cap", Spec{MaxBodyBytes: -1}, "max_body_bytes"},
		{"missing-schema", Spec{JSONSchema: filepath.Join(t.TempDir(), "nope.json")}, "nope.json"},
		{"schema-dir", Spec{JSONSchema: t.TempDir()}, "regular file"},
		{"schema-not-json", Spec{JSONSchema: writeSchema(t, `{type: object}`)}, "not valid JSON"},
		{"schema-duplicate-key", Spec{JSONSchema: writeSchema(t, `{"type":"object","type":"string"}`)}, "duplicate"},
		{"schema-invalid", Spec{JSONSchema: writeSchema(t, `{"type":"objekt"}`)}, "does not compile"},
		{"schema-bad-regexp", Spec{JSONSchema: writeSchema(t, `{"pattern":"(?<=x)"}`)}, "does not compile"},
		{"pointer-no-slash", Spec{SanitizeHTML: []string{"body"}}, `"body" must be empty or start with "/"`},
		{"pointer-bad-tilde", Spec{SanitizeHTML: []string{"/a~2"}}, "~0"},
		{"pointer-twice", Spec{SanitizeHTML: []string{"/a", "/a"}}, "twice"},
		{"too-many-pointers", Spec{SanitizeHTML: manyPointers(65)}, "at most 64"},
		{"type-not-media", Spec{ContentTypes: []string{"json"}}, `"json" is not a media type`},
		{"type-params", Spec{ContentTypes: []string{"application/json; charset=utf-8"}}, "parameters"},
		{"type-wildcard", Spec{ContentTypes: []string{"application/*"}}, "wildcard"},
		{"type-not-json-with-schema", Spec{ContentTypes: []string{"text/plain"}, SanitizeHTML: []string{"/a"}}, "not a JSON media type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compile(c.spec)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want it to mention %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "input: ") {
				t.Errorf("no package prefix: %v", err)
			}
		})
	}
	if _, err := Compile(Spec{SanitizeHTML: manyPointers(64), ContentTypes: []string{"application/problem+json"}}); err != nil {
		t.Errorf("64 pointers and a +json type: %v", err)
	}
}

func manyPointers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "/p" + strings.Repeat("x", i)
	}
	return out
}

func TestParsePointer(t *testing.T) {
	p, err := parsePointer("/a~1b/~0/0/01/-/")
	if err != nil {
		t.Fatal(err)
	}
	want := []token{{"a/b", -1}, {"~", -1}, {"0", 0}, {"01", -1}, {"-", -1}, {"", -1}}
	if len(p.tokens) != len(want) {
		t.Fatalf("tokens %v", p.tokens)
	}
	for i := range want {
		if p.tokens[i] != want[i] {
			t.Errorf("token %d = %v, want %v", i, p.tokens[i], want[i])
		}
	}
	if got := formatPointer([]string{"a/b", "~", "0"}); got != "/a~1b/~0/0" {
		t.Errorf("formatPointer %q", got)
	}
}
