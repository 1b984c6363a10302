package input

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/rampart-auth/rampart/internal/testkit"
)

// forbiddenElements may never appear in sanitized output: each runs
// script, loads a document or changes how the page resolves URLs.
var forbiddenElements = map[string]bool{
	"script": true, "style": true, "iframe": true, "frame": true, "frameset": true, "object": true,
	"embed": true, "base": true, "meta": true, "link": true, "form": true, "applet": true,
}

// urlAttributes carry a URL a browser may navigate to or load.
var urlAttributes = map[string]bool{
	"href": true, "src": true, "action": true, "formaction": true, "xlink:href": true, "background": true,
	"data": true, "cite": true, "poster": true, "srcset": true, "longdesc": true, "dynsrc": true, "lowsrc": true,
	"codebase": true, "to": true, "values": true,
}

// xssFindings parses out as a browser would (as a document, and as the
// content of a <div>, where a service would insert it) and lists every
// dangerous construct it finds.
func xssFindings(out string) []string {
	var found []string
	doc, err := html.Parse(strings.NewReader(out))
	if err != nil {
		return []string{"unparseable: " + err.Error()}
	}
	walk(doc, &found)
	ctx := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	nodes, err := html.ParseFragment(strings.NewReader(out), ctx)
	if err != nil {
		return []string{"unparseable fragment: " + err.Error()}
	}
	for _, n := range nodes {
		walk(n, &found)
	}
	return found
}

func walk(n *html.Node, found *[]string) {
	if n.Type == html.ElementNode {
		if forbiddenElements[strings.ToLower(n.Data)] {
			*found = append(*found, "element <"+n.Data+">")
		}
		for _, a := range n.Attr {
			if f := attrFinding(a); f != "" {
				*found = append(*found, f)
			}
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, found)
	}
}

func attrFinding(a html.Attribute) string {
	key := strings.ToLower(a.Key)
	if a.Namespace != "" {
		key = strings.ToLower(a.Namespace) + ":" + key
	}
	switch {
	case strings.HasPrefix(strings.ToLower(a.Key), "on"):
		return "event handler " + key
	case key == "style" || key == "srcdoc":
		return "attribute " + key
	case urlAttributes[key] || urlAttributes[strings.ToLower(a.Key)]:
		if s := dangerousScheme(a.Val); s != "" {
			return fmt.Sprintf("%s URL in %s", s, key)
		}
	}
	return ""
}

// dangerousScheme reports the script-bearing scheme of a URL attribute's
// value as a browser sees it: the parser has decoded entities; browsers
// also drop whitespace and control characters before the scheme.
func dangerousScheme(v string) string {
	var b strings.Builder
	for _, r := range v {
		if r <= 0x20 || (r >= 0x7f && r <= 0x9f) {
			continue
		}
		b.WriteRune(r)
	}
	s := strings.ToLower(b.String())
	for _, scheme := range []string{"javascript:", "vbscript:", "data:"} {
		if strings.HasPrefix(s, scheme) || strings.Contains(s, " "+scheme) {
			return strings.TrimSuffix(scheme, ":")
		}
	}
	return ""
}

// loadVectors reads every corpus file of testdata/xss.
func loadVectors(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/xss/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files: %v", err)
	}
	var out []string
	for _, file := range files {
		out = append(out, loadVectorFile(t, file)...)
	}
	return out
}

func loadVectorFile(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file) // #nosec G304 -- the test's own corpus under testdata.
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, "q:"):
			v, err := strconv.Unquote(line[2:])
			if err != nil {
				t.Fatalf("bad q: line %q: %v", line, err)
			}
			line = v
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSanitizeXSSCorpus performs every attack of the corpus and asserts
// that the sanitized output, parsed as a browser parses it, can run no
// script.
func TestSanitizeXSSCorpus(t *testing.T) {
	vectors := loadVectors(t)
	if len(vectors) < 80 {
		t.Fatalf("the corpus has %d vectors, want at least 80", len(vectors))
	}
	for i, v := range vectors {
		out := SanitizeHTML(v)
		if f := xssFindings(out); len(f) > 0 {
			t.Errorf("vector %d %q\nsanitized to %q\nstill has: %v", i+1, v, out, f)
		}
		// Sanitizing is stable: what comes out passes through unchanged,
		// so a body sanitized twice (two gateways, a retry) is the same.
		if again := SanitizeHTML(out); again != out {
			t.Errorf("vector %d: not idempotent:\n%q\n%q", i+1, out, again)
		}
	}
}

// TestCorpusCheckerCatches makes sure the checker itself sees the attacks
// it is meant to see: unsanitized vectors must be flagged.
func TestCorpusCheckerCatches(t *testing.T) {
	for _, raw := range []string{
		`<script>alert(1)</script>`,
		`<img src=x onerror=alert(1)>`,
		`<a href="jav&#x09;ascript:alert(1)">x</a>`,
		`<a href=" &#14; JavaScript:alert(1)">x</a>`,
		`<p style="color:red">x</p>`,
		`<iframe srcdoc="x"></iframe>`,
		`<svg><a xlink:href="javascript:alert(1)">x</a></svg>`,
		`<form><button formaction="vbscript:x">go</button></form>`,
		`<object data="data:text/html,x"></object>`,
		`<svg><style><img src=x onerror=alert(1)></style></svg>`,
	} {
		if len(xssFindings(raw)) == 0 {
			t.Errorf("the checker misses %q", raw)
		}
	}
}

// TestSanitizeBenignGolden: ordinary rich text survives, with links
// marked nofollow (and noopener when they open a new tab).
func TestSanitizeBenignGolden(t *testing.T) {
	cases := []string{
		`<p>Hello <b>bold</b> and <i>italic</i>, <em>em</em>, <strong>strong</strong>.</p>`,
		`<a href="https://example.test/docs?q=1&amp;r=2">docs</a>`,
		`<a href="/notes/42">relative</a>`,
		`<a href="mailto:team@example.test">mail</a>`,
		`<ul><li>one</li><li>two</li></ul><ol><li>first</li></ol>`,
		`<blockquote cite="https://example.test/">quoted</blockquote><pre><code>x := 1</code></pre>`,
		`<table><thead><tr><th>a</th></tr></thead><tbody><tr><td>1</td></tr></tbody></table>`,
		`<img src="https://example.test/a.png" alt="a picture">`,
		`<h2>Title</h2><p>5 &lt; 6 &amp; "quotes" stay text</p>`,
		`plain text, no markup, ünïcödé ✓`,
	}
	var buf bytes.Buffer
	for _, c := range cases {
		fmt.Fprintf(&buf, "in:  %s\nout: %s\n\n", c, SanitizeHTML(c))
	}
	testkit.Golden(t, "sanitize/benign.golden", buf.Bytes())
}

func TestSanitizeLinks(t *testing.T) {
	out := SanitizeHTML(`<a href="https://example.test/">x</a>`)
	if !strings.Contains(out, `rel="nofollow noopener"`) || !strings.Contains(out, `target="_blank"`) {
		t.Errorf("external link %q: want rel=\"nofollow noopener\" and target=_blank", out)
	}
	out = SanitizeHTML(`<a href="/local">x</a>`)
	if !strings.Contains(out, `rel="nofollow"`) {
		t.Errorf("relative link %q: want rel=nofollow", out)
	}
}

func TestSanitizeInvalidUTF8(t *testing.T) {
	out := SanitizeHTML("a\xffb<script>x</script>")
	if !strings.Contains(out, "a\uFFFDb") || strings.Contains(out, "script") {
		t.Errorf("got %q", out)
	}
}

func BenchmarkSanitizeHTML(b *testing.B) {
	in := strings.Repeat(`<p>Some <b>rich</b> text with a <a href="https://example.test/">link</a> and <img src=x onerror=alert(1)>.</p>`, 16)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		_ = SanitizeHTML(in)
	}
}
