package secretsapi

import (
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/secrets"
)

// FuzzParsePathArg: whatever raw path arrives, an accepted one is a
// valid secrets.Path equal to the input (nothing decoded or cleaned),
// never holds a dot segment, '%', an empty segment or upper case.
func FuzzParsePathArg(f *testing.F) {
	for _, s := range []string{"team/a/db", "team/a/../b", "team/%2e%2e/b", "team%2fa", "a//b", "a/", "/a", "A/b", "a/./b", "a/b.c-d_e", "..", "%00", "a\x00b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := ParsePathArg(raw)
		if err != nil {
			return
		}
		if string(p) != raw || strings.ContainsAny(raw, "%\\ \x00") || strings.Contains(raw, "//") || strings.HasPrefix(raw, "/") ||
			strings.HasSuffix(raw, "/") || raw != strings.ToLower(raw) {
			t.Fatalf("accepted %q", raw)
		}
		for _, seg := range strings.Split(raw, "/") {
			if seg == "." || seg == ".." || seg == "" {
				t.Fatalf("accepted %q with segment %q", raw, seg)
			}
		}
		if _, err := secrets.ParsePath(raw); err != nil {
			t.Fatalf("accepted %q the manager refuses: %v", raw, err)
		}
	})
}

// FuzzDecodeBody: the strict decoder never panics, accepts only one JSON
// object without duplicate members, and a refusal's message never
// echoes a value from the body.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{`{"value":"x"}`, `{"value":"x","value":"y"}`, `{"value_base64":"AA==","cas":1,"labels":["a"],"metadata":{"k":"v"}}`,
		`{"cass":1}`, `[]`, `{"value":1}`, `{"value":"x"} {}`, `{`, `{"metadata":{"k":"v","k":"w"}}`, `{"labels":[[[[[[[[[]]]]]]]]]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v PutRequest
		err := decodeJSON(body, &v)
		if err != nil {
			if v.Value != nil && len(*v.Value) >= 8 && strings.Contains(err.Error(), *v.Value) {
				t.Fatalf("the error %q echoes the value", err)
			}
			return
		}
		if b := strings.TrimSpace(string(body)); !strings.HasPrefix(b, "{") {
			t.Fatalf("accepted a non-object %q", body)
		}
	})
}
