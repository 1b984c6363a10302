package input

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// note4KiB is a note body of about 4 KiB: rich text in the sanitized
// field (with one tag to remove), a title, tags and an author.
func note4KiB() []byte {
	para := `<p>Meeting notes with <b>bold</b>, <i>italics</i> and a <a href="https://example.test/doc">link</a>.</p>`
	body := strings.Repeat(para, 37) + `<img src=x onerror=alert(1)>`
	doc := fmt.Sprintf(`{"title":"Weekly sync","body":%q,"tags":["team","weekly","notes"],"priority":2,"author":{"email":"ana@example.test"}}`, body)
	return []byte(doc)
}

// benchReq reuses one request, resetting its body each round: the
// benchmark measures Check, not building requests.
type benchReq struct {
	req *http.Request
	rd  *bytes.Reader
}

func newBenchReq(body []byte) *benchReq {
	rd := bytes.NewReader(body)
	req, _ := http.NewRequest(http.MethodPost, "http://gw.test/api/notes", io.NopCloser(rd))
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	return &benchReq{req: req, rd: rd}
}

func (b *benchReq) next(body []byte) *http.Request { b.rd.Reset(body); return b.req }

func BenchmarkCheck4KiB(b *testing.B) {
	r := noteRules(b)
	body := note4KiB()
	if len(body) < 4000 || len(body) > 4300 {
		b.Fatalf("body is %d bytes", len(body))
	}
	br := newBenchReq(body)
	if _, p := r.Check(br.next(body)); p != nil {
		b.Fatalf("refused: %+v", p)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, p := r.Check(br.next(body)); p != nil {
			b.Fatal(p)
		}
	}
}

// BenchmarkCheck4KiBSchemaOnly is the schema without sanitizing: the
// share of the cost that is bluemonday.
func BenchmarkCheck4KiBSchemaOnly(b *testing.B) {
	r := mustCompile(b, Spec{MaxBodyBytes: 64 << 10, JSONSchema: noteSchema})
	body := note4KiB()
	br := newBenchReq(body)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, p := r.Check(br.next(body)); p != nil {
			b.Fatal(p)
		}
	}
}

func BenchmarkCheckNoSchema(b *testing.B) {
	r := mustCompile(b, Spec{MaxBodyBytes: 64 << 10, ContentTypes: []string{"application/json"}})
	body := note4KiB()
	br := newBenchReq(body)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, p := r.Check(br.next(body)); p != nil {
			b.Fatal(p)
		}
	}
}

// BenchmarkParseStrict measures the strict parser beside encoding/json
// decoding the same document into any (the alternative it replaces).
func BenchmarkParseStrict(b *testing.B) {
	body := note4KiB()
	b.Run("strict", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, _, err := parseDocument(body, true, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var v any
			if err := jsonUnmarshalNumber(body, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
