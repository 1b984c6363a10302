package input

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

const noteSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
"additionalProperties":false,"required":["title","body"],
"properties":{"title":{"type":"string","minLength":1,"maxLength":20},
"body":{"type":"string","maxLength":32768},"tags":{"type":"array","maxItems":3,"items":{"type":"string"}}}}`

func writeSchema(t testing.TB, s string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "note.json")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func noteRules(t testing.TB) *Rules {
	t.Helper()
	r, err := Compile(Spec{MaxBodyBytes: 1024, ContentTypes: []string{"application/json"}, JSONSchema: writeSchema(t, noteSchema),
		SanitizeHTML: []string{"/body", "/tags/0"}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func post(body, ctype string) *http.Request {
	r := httptest.NewRequest("POST", "/api/notes", strings.NewReader(body))
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	return r
}

func TestCheckStatuses(t *testing.T) {
	r := noteRules(t)
	chunked := post(`{"title":"a","body":"`+strings.Repeat("x", 2000)+`"}`, "application/json")
	chunked.ContentLength = -1
	cases := []struct {
		name string
		req  *http.Request
		want int
	}{
		{"ok", post(`{"title":"a","body":"<p>hi</p>"}`, "application/json"), 0},
		{"ok-charset", post(`{"title":"a","body":"x"}`, "application/json; charset=utf-8"), 0},
		{"declared-too-large", func() *http.Request { q := post(`{}`, "application/json"); q.ContentLength = 5000; return q }(), 413},
		{"chunked-too-large", chunked, 413},
		{"no-content-type", post(`{"title":"a","body":"x"}`, ""), 415},
		{"wrong-content-type", post(`title=a`, "application/x-www-form-urlencoded"), 415},
		{"content-type-confusion", post(`{"title":"a","body":"x"}`, "text/plain"), 415},
		{"invalid-json", post(`{"title":`, "application/json"), 400},
		{"duplicate-key", post(`{"title":"a","body":"x","body":"<script>alert(1)</script>"}`, "application/json"), 400},
		{"nested-duplicate", post(`{"title":"a","body":"x","tags":[{"a":1,"a":2}]}`, "application/json"), 400},
		{"invalid-utf8", post("{\"title\":\"a\",\"body\":\"\xff<script>\"}", "application/json"), 400},
		{"trailing-data", post(`{"title":"a","body":"x"} {}`, "application/json"), 400},
		{"too-deep", post(strings.Repeat("[", 70)+strings.Repeat("]", 70), "application/json"), 400},
		{"empty-body", post(``, "application/json"), 422},
		{"schema-missing-title", post(`{"body":"x"}`, "application/json"), 422},
		{"schema-extra-member", post(`{"title":"a","body":"x","admin":true}`, "application/json"), 422},
		{"schema-too-long", post(`{"title":"`+strings.Repeat("t", 21)+`","body":"x"}`, "application/json"), 422},
		{"sanitize-non-string", post(`{"title":"a","body":"x","tags":[1]}`, "application/json"), 422},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, p := r.Check(c.req)
			got := 0
			if p != nil {
				got = p.Status
			}
			if got != c.want {
				t.Fatalf("status %d, want %d (%+v)", got, c.want, p)
			}
		})
	}
}

func TestSchemaErrorsNamePointers(t *testing.T) {
	r := noteRules(t)
	_, p := r.Check(post(`{"title":"","body":7,"tags":["a","b","c","d"],"x~y/z":1}`, "application/json"))
	if p == nil || p.Status != 422 {
		t.Fatalf("%+v", p)
	}
	w := httptest.NewRecorder()
	p.Write(w)
	var doc struct {
		Status int          `json:"status"`
		Errors []FieldError `json:"errors"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("%v %q", err, w.Body.String())
	}
	got := map[string]bool{}
	for _, e := range doc.Errors {
		got[e.Pointer] = true
		if e.Detail == "" {
			t.Errorf("empty detail at %s", e.Pointer)
		}
	}
	for _, want := range []string{"/title", "/body", "/tags"} {
		if !got[want] {
			t.Errorf("no error at %s: %+v", want, doc.Errors)
		}
	}
	if !got[""] && !got["/x~0y~1z"] {
		t.Errorf("additional property not reported: %+v", doc.Errors)
	}
}

func TestSanitizedFieldsArriveClean(t *testing.T) {
	r := noteRules(t)
	in := `{"title":"a","body":"<p onclick=\"x()\">hi <b>there</b><script>alert(1)</script><a href=\"javascript:alert(1)\">l</a></p>","tags":["<img src=x onerror=alert(1)>"]}`
	out, p := r.Check(post(in, "application/json"))
	if p != nil {
		t.Fatal(p)
	}
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	body := doc["body"].(string)
	if strings.Contains(body, "script") || strings.Contains(body, "onclick") || strings.Contains(body, "javascript") || !strings.Contains(body, "<b>there</b>") {
		t.Errorf("body %q", body)
	}
	if tag := doc["tags"].([]any)[0].(string); strings.Contains(tag, "onerror") {
		t.Errorf("tag %q", tag)
	}
	clean := `{"title":"a",  "body":"<p>fine</p>"}`
	out, p = r.Check(post(clean, "application/json"))
	if p != nil || string(out) != clean {
		t.Errorf("an unchanged body was re-encoded: %q %v", out, p)
	}
}

func TestCompileRefuses(t *testing.T) {
	for name, s := range map[string]Spec{
		"remote-ref":    {JSONSchema: writeSchema(t, `{"$ref":"http://169.254.169.254/latest/meta-data"}`)},
		"file-ref":      {JSONSchema: writeSchema(t, `{"$ref":"file:///etc/passwd"}`)},
		"bad-json":      {JSONSchema: writeSchema(t, `{"type":`)},
		"dup-in-schema": {JSONSchema: writeSchema(t, `{"type":"object","type":"string"}`)},
		"missing-file":  {JSONSchema: "/nonexistent/schema.json"},
		"bad-pointer":   {SanitizeHTML: []string{"body"}},
		"bad-escape":    {SanitizeHTML: []string{"/a~2"}},
		"bad-type":      {ContentTypes: []string{"json"}},
		"type-params":   {ContentTypes: []string{"application/json; charset=utf-8"}},
	} {
		if _, err := Compile(s); err == nil {
			t.Errorf("%s: compiled", name)
		}
	}
}

// TestSanitizeXSSCorpus: no vector of the DOMPurify / OWASP corpus keeps
// anything that can run script.
func TestSanitizeXSSCorpus(t *testing.T) {
	f, err := os.Open("testdata/xss-vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		v := sc.Text()
		if v == "" || strings.HasPrefix(v, "#") {
			continue
		}
		n++
		if bad := dangerous(SanitizeHTML(v)); bad != "" {
			t.Errorf("vector %q: output %q keeps %s", v, SanitizeHTML(v), bad)
		}
	}
	if n < 80 {
		t.Fatalf("only %d vectors", n)
	}
	for in, want := range map[string]string{
		`<p>Hello <b>world</b></p>`:               `<p>Hello <b>world</b></p>`,
		`<ul><li>one</li><li>two</li></ul>`:       `<ul><li>one</li><li>two</li></ul>`,
		`<a href="https://example.com/">link</a>`: `<a href="https://example.com/" rel="nofollow noreferrer">link</a>`,
	} {
		if got := SanitizeHTML(in); got != want {
			t.Errorf("benign %q became %q, want %q", in, got, want)
		}
	}
}

// dangerous names what in s could run script once a browser parses it.
func dangerous(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return ""
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		switch tok.Data {
		case "script", "style", "iframe", "object", "embed", "frame", "frameset", "base", "meta", "link", "form", "svg", "math", "template", "noscript":
			return "<" + tok.Data + ">"
		}
		for _, a := range tok.Attr {
			k := strings.ToLower(a.Key)
			if strings.HasPrefix(k, "on") || k == "style" || k == "srcdoc" || k == "formaction" {
				return "attribute " + k
			}
			if k == "href" || k == "src" || k == "action" || k == "xlink:href" || k == "background" || k == "data" || k == "dynsrc" || k == "lowsrc" {
				v := strings.Map(func(r rune) rune {
					if r <= ' ' || r == 0x7f {
						return -1
					}
					return r
				}, strings.ToLower(a.Val))
				for _, scheme := range []string{"javascript:", "vbscript:", "data:"} {
					if strings.HasPrefix(v, scheme) {
						return k + "=" + a.Val
					}
				}
			}
		}
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{"title":"a","body":"<b>x</b>"}`, `{"body":"<script>"}`, `[]`, `{"a":{"a":1,"a":2}}`, `"x"`, ``} {
		f.Add(s)
	}
	r := noteRules(f)
	f.Fuzz(func(t *testing.T, body string) {
		out, p := r.Check(post(body, "application/json"))
		if p != nil {
			if p.Status < 400 || p.Status > 499 {
				t.Fatalf("status %d", p.Status)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("forwarded invalid JSON %q", out)
		}
	})
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{`<a href="javascript:x">`, `<img src=x onerror=y>`, `<svg><style><img src=x onerror=1>`, `<p>ok</p>`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if bad := dangerous(SanitizeHTML(s)); bad != "" {
			t.Fatalf("%q kept %s: %q", s, bad, SanitizeHTML(s))
		}
	})
}

func BenchmarkCheck4KiB(b *testing.B) {
	r := noteRules(b)
	r.max = 64 << 10
	body := `{"title":"a note","body":"<p>` + strings.Repeat("Lorem <b>ipsum</b> dolor sit amet, ", 115) + `</p>"}`
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, p := r.Check(post(body, "application/json")); p != nil {
			b.Fatal(p)
		}
	}
}

func BenchmarkCheckNoSchema(b *testing.B) {
	r, _ := Compile(Spec{ContentTypes: []string{"application/json"}})
	body := `{"title":"a note","body":"x"}`
	b.ReportAllocs()
	for b.Loop() {
		if _, p := r.Check(post(body, "application/json")); p != nil {
			b.Fatal(p)
		}
	}
}

func FuzzStrictJSON(f *testing.F) {
	for _, s := range []string{`{"a":1,"\u0061":2}`, `[[[]]]`, `{"a":{"b":[1,{"c":"\""}]}}`, ` 1 `, `{"k":"v\\"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := strictJSON([]byte(s))
		if err == nil && !json.Valid([]byte(s)) {
			t.Fatalf("accepted invalid JSON %q", s)
		}
	})
}

func TestStrictJSONEscapedDuplicate(t *testing.T) {
	for _, s := range []string{`{"a":1,"\u0061":2}`, `{"x":{"b\"":1,"b\u0022":2}}`, `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"a":11}`} {
		if err := strictJSON([]byte(s)); err == nil {
			t.Errorf("%s accepted", s)
		}
	}
	if err := strictJSON([]byte(`{"a":{"a":1},"b":[{"a":1},{"a":2}]}`)); err != nil {
		t.Error(err)
	}
}
