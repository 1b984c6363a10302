package input

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const noteSchema = "testdata/schemas/note.json"

func mustCompile(t testing.TB, s Spec) *Rules {
	t.Helper()
	r, err := Compile(s)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return r
}

func noteRules(t testing.TB) *Rules {
	return mustCompile(t, Spec{MaxBodyBytes: 64 << 10, ContentTypes: []string{"application/json"},
		JSONSchema: noteSchema, SanitizeHTML: []string{"/body"}})
}

// jsonReq is a POST with a declared length and a JSON content type.
func jsonReq(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/api/notes", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// chunkedReq hides the length, as a chunked request does on the server.
func chunkedReq(body string, contentType string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/api/notes", io.NopCloser(strings.NewReader(body)))
	r.ContentLength = -1
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

func wantStatus(t *testing.T, p *Problem, status int) {
	t.Helper()
	if p == nil {
		t.Fatalf("no problem, want %d", status)
	}
	if p.Status != status {
		t.Fatalf("status %d (%s), want %d", p.Status, p.Detail, status)
	}
}

// countingReader fails the test if it is read at all.
type countingReader struct{ reads int }

func (c *countingReader) Read([]byte) (int, error) { c.reads++; return 0, io.EOF }

func TestBodyCap(t *testing.T) {
	r := mustCompile(t, Spec{MaxBodyBytes: 10})
	t.Run("reject/declared-over-cap-unread", func(t *testing.T) {
		body := &countingReader{}
		req := httptest.NewRequest(http.MethodPost, "/", io.NopCloser(body))
		req.ContentLength = 11
		_, p := r.Check(req)
		wantStatus(t, p, http.StatusRequestEntityTooLarge)
		if body.reads != 0 {
			t.Errorf("the body was read %d times: a declared oversize must be refused unread", body.reads)
		}
	})
	t.Run("reject/chunked-over-cap", func(t *testing.T) {
		_, p := r.Check(chunkedReq(strings.Repeat("a", 11), "text/plain"))
		wantStatus(t, p, http.StatusRequestEntityTooLarge)
	})
	t.Run("reject/declared-small-sent-large", func(t *testing.T) {
		req := chunkedReq(strings.Repeat("a", 1<<20), "text/plain")
		req.ContentLength = 5 // a lying length on a hand-built request
		_, p := r.Check(req)
		wantStatus(t, p, http.StatusRequestEntityTooLarge)
	})
	t.Run("accept/exactly-cap", func(t *testing.T) {
		for _, req := range []*http.Request{chunkedReq("0123456789", "text/plain"), jsonReq("0123456789")} {
			out, p := r.Check(req)
			if p != nil || string(out) != "0123456789" {
				t.Fatalf("got %q %+v", out, p)
			}
		}
	})
	t.Run("accept/default-cap-1MiB", func(t *testing.T) {
		d := mustCompile(t, Spec{})
		if d.MaxBodyBytes() != 1<<20 {
			t.Fatalf("default cap %d", d.MaxBodyBytes())
		}
		_, p := d.Check(chunkedReq(strings.Repeat("a", 1<<20+1), "text/plain"))
		wantStatus(t, p, http.StatusRequestEntityTooLarge)
	})
	t.Run("reject/outer-MaxBytesReader", func(t *testing.T) {
		req := chunkedReq(strings.Repeat("a", 8), "text/plain")
		req.Body = http.MaxBytesReader(httptest.NewRecorder(), req.Body, 4)
		_, p := r.Check(req)
		wantStatus(t, p, http.StatusRequestEntityTooLarge)
	})
	t.Run("reject/broken-body-400-no-leak", func(t *testing.T) {
		req := chunkedReq("", "text/plain")
		req.Body = io.NopCloser(io.MultiReader(strings.NewReader("abc"), errReader{}))
		_, p := r.Check(req)
		wantStatus(t, p, http.StatusBadRequest)
		if strings.Contains(p.Detail, "secret") {
			t.Errorf("detail leaks the cause: %q", p.Detail)
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("secret internal cause") }

func TestContentTypes(t *testing.T) {
	r := mustCompile(t, Spec{ContentTypes: []string{"application/json", "Application/Merge-Patch+JSON"}})
	cases := []struct {
		name   string
		types  []string
		body   string
		length int64
		want   int // 0: accepted
	}{
		{"accept/exact", []string{"application/json"}, `{}`, 2, 0},
		{"accept/parameters-ignored", []string{"application/json; charset=utf-8"}, `{}`, 2, 0},
		{"accept/case-insensitive", []string{"APPLICATION/JSON"}, `{}`, 2, 0},
		{"accept/second-type", []string{"application/merge-patch+json"}, `{}`, 2, 0},
		{"accept/no-body-no-type", nil, ``, 0, 0},
		{"reject/missing", nil, `{}`, 2, 415},
		{"reject/empty", []string{""}, `{}`, 2, 415},
		{"reject/wrong", []string{"text/plain"}, `{}`, 2, 415},
		{"reject/prefix-trick", []string{"application/jsonx"}, `{}`, 2, 415},
		{"reject/suffix-trick", []string{"text/html; x=application/json"}, `{}`, 2, 415},
		{"reject/unparseable", []string{"application/json;;;=="}, `{}`, 2, 415},
		{"reject/list-in-one", []string{"application/json, text/html"}, `{}`, 2, 415},
		{"reject/two-fields", []string{"application/json", "text/html"}, `{}`, 2, 415},
		{"reject/chunked-missing", nil, `{}`, -1, 415},
		{"accept/chunked-empty-no-type", nil, ``, -1, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(c.body))
			req.ContentLength = c.length
			for _, v := range c.types {
				req.Header.Add("Content-Type", v)
			}
			_, p := r.Check(req)
			if c.want == 0 {
				if p != nil {
					t.Fatalf("refused: %d %s", p.Status, p.Detail)
				}
				return
			}
			wantStatus(t, p, c.want)
		})
	}
	t.Run("reject/GET-with-body", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/", strings.NewReader("x"))
		req.Header.Set("Content-Type", "text/plain")
		_, p := r.Check(req)
		wantStatus(t, p, 415)
	})
}

func TestJSONRoutesOnlyTakeJSON(t *testing.T) {
	r := mustCompile(t, Spec{SanitizeHTML: []string{"/body"}}) // no content_types: application/json only
	_, p := r.Check(func() *http.Request { q := jsonReq(`{}`); q.Header.Set("Content-Type", "text/plain"); return q }())
	wantStatus(t, p, 415)
	// A JSON body labelled with another charset would be decoded
	// differently by a service that honours the label.
	q := jsonReq(`{}`)
	q.Header.Set("Content-Type", "application/json; charset=utf-16")
	_, p = r.Check(q)
	wantStatus(t, p, 415)
	if _, p = r.Check(jsonReq(`{"body":"x"}`)); p != nil {
		t.Fatalf("refused: %+v", p)
	}
}

func TestStrictJSON(t *testing.T) {
	r := noteRules(t)
	deep := strings.Repeat("[", 65) + strings.Repeat("]", 65)
	cases := map[string]string{
		"reject/invalid":              `{"title": "a",}`,
		"reject/duplicate-key":        `{"title":"a","body":"b","title":"c"}`,
		"reject/duplicate-escaped":    `{"title":"a","body":"b","\u0074itle":"<script>"}`,
		"reject/duplicate-nested":     `{"title":"a","body":"b","author":{"email":"a@b.test","email":"x"}}`,
		"reject/too-deep":             `{"title":"a","body":"b","x":` + deep + `}`,
		"reject/trailing-data":        `{"title":"a","body":"b"} {"title":"c"}`,
		"reject/trailing-garbage":     `{"title":"a","body":"b"}x`,
		"reject/invalid-utf8":         "{\"title\":\"a\xff\",\"body\":\"b\"}",
		"reject/lone-surrogate":       `{"title":"\ud800","body":"b"}`,
		"reject/lone-low-surrogate":   `{"title":"\udc00x","body":"b"}`,
		"reject/control-char":         "{\"title\":\"a\x01\",\"body\":\"b\"}",
		"reject/huge-number":          `{"title":"a","body":"b","priority":1` + strings.Repeat("0", 200) + `}`,
		"reject/huge-exponent":        `{"title":"a","body":"b","priority":1e999999}`,
		"reject/leading-zero":         `{"title":"a","body":"b","priority":01}`,
		"reject/bare-word":            `{"title":"a","body":"b","priority":NaN}`,
		"reject/single-quotes":        `{'title':"a"}`,
		"reject/unterminated":         `{"title":"a`,
		"reject/bom":                  "\ufeff{\"title\":\"a\",\"body\":\"b\"}",
		"reject/comment":              `{"title":"a","body":"b"/*x*/}`,
		"reject/nul-after-document":   "{\"title\":\"a\",\"body\":\"b\"}\x00",
		"reject/duplicate-in-array":   `{"title":"a","body":"b","tags":[{"k":1,"k":2}]}`,
		"reject/unescaped-newline":    "{\"title\":\"a\nb\",\"body\":\"b\"}",
		"reject/invalid-escape":       `{"title":"\x41","body":"b"}`,
		"reject/truncated-unicode":    `{"title":"\u00","body":"b"}`,
		"reject/overlong-utf8":        "{\"title\":\"\xc0\xaf\",\"body\":\"b\"}",
		"reject/surrogate-utf8-bytes": "{\"title\":\"\xed\xa0\x80\",\"body\":\"b\"}",
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			out, p := r.Check(jsonReq(body))
			wantStatus(t, p, http.StatusBadRequest)
			if out != nil {
				t.Errorf("a refused body was returned")
			}
			if strings.Contains(p.Detail, "script") || len(p.Detail) > 200 {
				t.Errorf("detail echoes input: %q", p.Detail)
			}
		})
	}
	t.Run("accept/depth-64", func(t *testing.T) {
		nested := strings.Repeat("[", 63) + strings.Repeat("]", 63) // 63 arrays inside the root object
		noSchema := mustCompile(t, Spec{SanitizeHTML: []string{"/body"}})
		if _, p := noSchema.Check(jsonReq(`{"x":` + nested + `}`)); p != nil {
			t.Fatalf("refused: %+v", p)
		}
		_, p := noSchema.Check(jsonReq(`{"x":[` + nested + `]}`))
		wantStatus(t, p, http.StatusBadRequest)
	})
}

func TestSchemaViolations(t *testing.T) {
	r := noteRules(t)
	body := `{"title":"","body":1,"extra":true,"tags":["OK!"],"priority":9,"author":{"email":"not-an-email"}}`
	_, p := r.Check(jsonReq(body))
	wantStatus(t, p, http.StatusUnprocessableEntity)
	want := []FieldError{
		{"/author/email", "is not a valid email"},
		{"/body", "must be string, not number"},
		{"/extra", "is not allowed"},
		{"/priority", "maximum: got 9, want 5"},
		{"/tags/0", "does not match the required pattern"},
		{"/title", "must be at least 1 character long"},
	}
	if fmt.Sprint(p.Errors) != fmt.Sprint(want) {
		t.Errorf("errors\n got %v\nwant %v", p.Errors, want)
	}
	t.Run("required", func(t *testing.T) {
		_, p := r.Check(jsonReq(`{}`))
		wantStatus(t, p, 422)
		want := []FieldError{{"/body", "is required"}, {"/title", "is required"}}
		if fmt.Sprint(p.Errors) != fmt.Sprint(want) {
			t.Errorf("got %v", p.Errors)
		}
	})
	t.Run("maxLength", func(t *testing.T) {
		_, p := r.Check(jsonReq(`{"title":"` + strings.Repeat("x", 101) + `","body":""}`))
		wantStatus(t, p, 422)
		if len(p.Errors) != 1 || p.Errors[0] != (FieldError{"/title", "must be at most 100 characters long"}) {
			t.Errorf("got %v", p.Errors)
		}
	})
	t.Run("root-type", func(t *testing.T) {
		_, p := r.Check(jsonReq(`[]`))
		wantStatus(t, p, 422)
		if len(p.Errors) != 1 || p.Errors[0].Pointer != "" {
			t.Errorf("got %v", p.Errors)
		}
	})
	t.Run("empty-body", func(t *testing.T) {
		for _, req := range []*http.Request{jsonReq(""), chunkedReq("", "application/json"),
			httptest.NewRequest(http.MethodPost, "/", nil)} {
			_, p := r.Check(req)
			wantStatus(t, p, 422)
			if len(p.Errors) != 1 || p.Errors[0] != (FieldError{"", "a JSON body is required"}) {
				t.Errorf("got %v", p.Errors)
			}
		}
	})
	t.Run("pointer-escaping", func(t *testing.T) {
		_, p := r.Check(jsonReq(`{"title":"a","body":"b","a/b~c":1}`))
		wantStatus(t, p, 422)
		if p.Errors[0].Pointer != "/a~1b~0c" {
			t.Errorf("got %v", p.Errors)
		}
	})
}

// TestHostileSchemaInput: many errors, huge strings and huge keys give a
// bounded answer that does not echo the input.
func TestHostileSchemaInput(t *testing.T) {
	r := mustCompile(t, Spec{JSONSchema: noteSchema})
	t.Run("many-errors-capped", func(t *testing.T) {
		var b strings.Builder
		b.WriteString(`{"title":"a","body":"b"`)
		for i := range 5000 {
			fmt.Fprintf(&b, `,"x%d":1`, i)
		}
		b.WriteString(`}`)
		_, p := r.Check(jsonReq(b.String()))
		wantStatus(t, p, 422)
		if len(p.Errors) != maxFieldErrors {
			t.Errorf("%d errors, want %d", len(p.Errors), maxFieldErrors)
		}
		if !strings.Contains(p.Detail, "the first 50 listed") {
			t.Errorf("detail %q", p.Detail)
		}
	})
	t.Run("huge-string-not-echoed", func(t *testing.T) {
		huge := strings.Repeat("<script>", 100000)
		_, p := r.Check(jsonReq(`{"title":"a","body":"b","tags":["` + huge + `"]}`))
		wantStatus(t, p, 422)
		rec := httptest.NewRecorder()
		p.Write(rec)
		if rec.Body.Len() > 2048 || strings.Contains(rec.Body.String(), "script") {
			t.Errorf("answer of %d bytes echoes the input: %.200s", rec.Body.Len(), rec.Body.String())
		}
	})
	t.Run("huge-key-pointer-shortened", func(t *testing.T) {
		key := strings.Repeat("k", 100000)
		_, p := r.Check(jsonReq(`{"title":"a","body":"b","author":{"` + key + `":1},"` + key + `":2}`))
		wantStatus(t, p, 422)
		for _, e := range p.Errors {
			if len(e.Pointer) > maxPointerLen || len(e.Detail) > maxDetailLen {
				t.Errorf("unbounded error: %d-byte pointer, %d-byte detail", len(e.Pointer), len(e.Detail))
			}
		}
	})
}

func TestSanitizeFields(t *testing.T) {
	r := noteRules(t)
	t.Run("cleaned", func(t *testing.T) {
		body := `{ "title" : "<script>kept: not a sanitized field</script>", "body":"<p onclick=\"x()\">hi<script>alert(1)</script></p>", "priority": 3.00000000000000000000000 }`
		out, p := r.Check(jsonReq(body))
		if p != nil {
			t.Fatalf("refused: %+v", p)
		}
		want := `{ "title" : "<script>kept: not a sanitized field</script>", "body":"<p>hi</p>", "priority": 3.00000000000000000000000 }`
		if string(out) != want {
			t.Errorf("forwarded\n %s\nwant\n %s", out, want)
		}
		var v map[string]any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("unchanged-byte-identical", func(t *testing.T) {
		body := "{\n  \"title\": \"x\",\n  \"priority\": 1.0e0,\n  \"body\": \"<b>fine</b> \\u00e9\"\n}"
		out, p := r.Check(jsonReq(body))
		if p != nil || !bytes.Equal(out, []byte(body)) {
			t.Fatalf("got %q %+v, want the original bytes", out, p)
		}
	})
	t.Run("absent-pointer", func(t *testing.T) {
		s := mustCompile(t, Spec{SanitizeHTML: []string{"/missing", "/a/0/b", "/a/-"}})
		body := `{"a":[{"b":"<img src=x onerror=alert(1)>"}, "<script>x</script>"]}`
		out, p := s.Check(jsonReq(body))
		if p != nil {
			t.Fatalf("%+v", p)
		}
		if want := `{"a":[{"b":"<img src=\"x\">"}, "<script>x</script>"]}`; string(out) != want {
			t.Errorf("got %s want %s", out, want)
		}
	})
	t.Run("non-string-422", func(t *testing.T) {
		s := mustCompile(t, Spec{SanitizeHTML: []string{"/body", "/other"}})
		for _, v := range []string{`{"x":1}`, `1`, `null`, `["<b>"]`, `true`} {
			_, p := s.Check(jsonReq(`{"body":` + v + `,"other":"ok"}`))
			wantStatus(t, p, 422)
			if len(p.Errors) != 1 || p.Errors[0].Pointer != "/body" {
				t.Errorf("%s: %v", v, p.Errors)
			}
		}
	})
	t.Run("root-string", func(t *testing.T) {
		s := mustCompile(t, Spec{SanitizeHTML: []string{""}})
		out, p := s.Check(jsonReq(`"<a href='javascript:alert(1)'>x</a>"`))
		if p != nil || string(out) != `"x"` {
			t.Errorf("got %s %+v", out, p)
		}
	})
	t.Run("escaped-key-and-hidden-markup", func(t *testing.T) {
		s := mustCompile(t, Spec{SanitizeHTML: []string{"/a~1b"}})
		out, p := s.Check(jsonReq(`{"a\/b":"\u003cscript\u003ealert(1)\u003c/script\u003eok"}`))
		if p != nil || string(out) != `{"a\/b":"ok"}` {
			t.Errorf("got %s %+v", out, p)
		}
	})
	t.Run("json-special-chars-in-output", func(t *testing.T) {
		s := mustCompile(t, Spec{SanitizeHTML: []string{"/b"}})
		out, p := s.Check(jsonReq(`{"b":"<i>\"q\" \\ \t \u2028</i><script></script>"}`))
		if p != nil {
			t.Fatal(p)
		}
		var v struct{ B string }
		if err := json.Unmarshal(out, &v); err != nil || !strings.Contains(v.B, "\u2028") {
			t.Errorf("got %s (%v)", out, err)
		}
	})
}

func TestNoRulesForwardsAnyBody(t *testing.T) {
	r := mustCompile(t, Spec{})
	if r.NeedsBody() {
		t.Fatal("NeedsBody with no schema and no sanitize")
	}
	body := "not json {{{ \x00"
	out, p := r.Check(chunkedReq(body, "application/octet-stream"))
	if p != nil || string(out) != body {
		t.Fatalf("got %q %+v", out, p)
	}
	if !noteRules(t).NeedsBody() || !mustCompile(t, Spec{SanitizeHTML: []string{"/x"}}).NeedsBody() {
		t.Error("NeedsBody false with schema or sanitize set")
	}
}

func TestProblemWrite(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Length", "5")
	(&Problem{Status: 422, Title: "Unprocessable Entity", Detail: "d", Errors: []FieldError{{"", "x"}, {"/a", "y"}}}).Write(rec)
	if rec.Code != 422 || rec.Header().Get("Content-Type") != "application/problem+json" ||
		rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("status %d headers %v", rec.Code, rec.Header())
	}
	want := `{"type":"about:blank","title":"Unprocessable Entity","status":422,"detail":"d","errors":[{"pointer":"","detail":"x"},{"pointer":"/a","detail":"y"}]}` + "\n"
	if rec.Body.String() != want {
		t.Errorf("body %s", rec.Body)
	}
	rec = httptest.NewRecorder()
	tooLarge().Write(rec)
	if rec.Code != 413 || rec.Header().Get("Connection") != "close" || strings.Contains(rec.Body.String(), "errors") {
		t.Errorf("413: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	rec = httptest.NewRecorder()
	(&Problem{Status: 200}).Write(rec)
	if rec.Code != 500 {
		t.Errorf("a non-error status must not be written: %d", rec.Code)
	}
}

// TestThroughServer runs Check behind a real listener: a chunked upload
// over the cap and a declared one are both 413 problems, and an accepted
// body reaches the handler as Check returned it.
func TestThroughServer(t *testing.T) {
	r := mustCompile(t, Spec{MaxBodyBytes: 1024, JSONSchema: noteSchema, SanitizeHTML: []string{"/body"}})
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, p := r.Check(req)
		if p != nil {
			p.Write(w)
			return
		}
		got <- string(body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	post := func(body io.Reader, length int64) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, body)
		req.ContentLength = length
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp
	}
	big := `{"title":"a","body":"` + strings.Repeat("x", 2000) + `"}`
	if resp := post(io.MultiReader(strings.NewReader(big)), -1); resp.StatusCode != 413 {
		t.Errorf("chunked: %d", resp.StatusCode)
	}
	if resp := post(strings.NewReader(big), int64(len(big))); resp.StatusCode != 413 {
		t.Errorf("declared: %d", resp.StatusCode)
	}
	ok := `{"title":"a","body":"<b onmouseover=x>b</b>"}`
	if resp := post(strings.NewReader(ok), int64(len(ok))); resp.StatusCode != 204 {
		t.Fatalf("accepted body: %d", resp.StatusCode)
	}
	if b := <-got; b != `{"title":"a","body":"<b>b</b>"}` {
		t.Errorf("handler got %s", b)
	}
}
