package gateway

import (
	"bufio"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCanonicalizeAccepts(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"accept/root", "/", "/"},
		{"accept/plain", "/api/notes/1", "/api/notes/1"},
		{"accept/trailing-slash-kept", "/api/notes/", "/api/notes/"},
		{"accept/unreserved-decoded", "/%61pi/%7Enotes", "/api/~notes"},
		{"accept/lowercase-unreserved-decoded", "/%2d%5f%7e", "/-_~"},
		{"accept/sub-delims-decoded", "/a%2Bb%2c%3D%21%24%26%27%28%29%2A", "/a+b,=!$&'()*"},
		{"accept/colon-at-literal", "/v1/p:run@x", "/v1/p:run@x"},
		{"accept/colon-at-decoded", "/v1/p%3Arun%40x", "/v1/p:run@x"},
		{"accept/hex-uppercased", "/caf%c3%a9", "/caf%C3%A9"},
		{"accept/canonical-escape-kept", "/caf%C3%A9", "/caf%C3%A9"},
		{"accept/inner-space", "/a%20b", "/a%20b"},
		{"accept/percent-literal", "/100%25", "/100%25"},
		{"accept/percent-then-non-hex", "/100%25zz", "/100%25zz"},
		{"accept/percent-then-one-hex", "/100%25a", "/100%25a"},
		{"accept/percent-then-slash", "/a%25/2e", "/a%25/2e"},
		{"accept/dotfile", "/.well-known/jwks.json", "/.well-known/jwks.json"},
		{"accept/three-dots", "/.../x", "/.../x"},
		{"accept/dot-prefix", "/..a/a..", "/..a/a.."},
		{"accept/encoded-dot-in-name", "/a%2Ejson", "/a.json"},
		{"accept/encoded-quote-kept", "/%22x%22", "/%22x%22"},
		{"accept/encoded-brackets-kept", "/%5B0%5D", "/%5B0%5D"},
		{"accept/encoded-braces-kept", "/%7b%7D", "/%7B%7D"},
		{"accept/utf8-4byte", "/%F0%9F%98%80", "/%F0%9F%98%80"},
		{"accept/utf8-replacement-char", "/%EF%BF%BD", "/%EF%BF%BD"},
		{"accept/utf8-max", "/%F4%8F%BF%BF", "/%F4%8F%BF%BF"},
		{"accept/nbsp", "/a%C2%A0", "/a%C2%A0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Canonicalize(tc.in)
			if err != nil {
				t.Fatalf("Canonicalize(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Fatalf("Canonicalize(%q) = %q, want %q", tc.in, got, tc.want)
			}
			again, err := Canonicalize(got)
			if err != nil || again != got {
				t.Fatalf("not idempotent: Canonicalize(%q) = %q, %v", got, again, err)
			}
		})
	}
}

func TestCanonicalizeRefuses(t *testing.T) {
	cases := []struct {
		name, in string
		want     error
	}{
		{"reject/empty", "", errNotAbsolute},
		{"reject/relative", "api/notes", errNotAbsolute},
		{"reject/asterisk", "*", errNotAbsolute},
		{"reject/too-long", "/" + strings.Repeat("a", MaxPathLen), errTooLong},
		{"reject/lone-percent", "/a%", errBadEscape},
		{"reject/truncated-escape", "/a%4", errBadEscape},
		{"reject/non-hex-escape", "/a%G1", errBadEscape},
		{"reject/iis-u-escape", "/%u002e%u002e/", errBadEscape},
		{"reject/encoded-slash", "/a%2Fb", errEncodedSlash},
		{"reject/encoded-slash-lower", "/a%2fb", errEncodedSlash},
		{"reject/raw-backslash", `/a\b`, errBackslash},
		{"reject/encoded-backslash", "/a%5Cb", errBackslash},
		{"reject/encoded-backslash-lower", "/a%5cb", errBackslash},
		{"reject/raw-nul", "/a\x00b", errNUL},
		{"reject/encoded-nul", "/a%00b", errNUL},
		{"reject/raw-tab", "/a\tb", errControl},
		{"reject/encoded-lf", "/a%0A", errControl},
		{"reject/encoded-cr", "/a%0d", errControl},
		{"reject/encoded-del", "/a%7F", errControl},
		{"reject/raw-del", "/a\x7f", errControl},
		{"reject/c1-nel", "/a%C2%85", errControl},
		{"reject/c1-csi", "/a%C2%9B", errControl},
		{"reject/path-parameter", "/admin;x=y/", errParam},
		{"reject/empty-parameter", "/admin;/", errParam},
		{"reject/dotdot-semicolon", "/..;/admin", errParam},
		{"reject/encoded-semicolon", "/a%3Bb", errParam},
		{"reject/encoded-question", "/a%3Fb", errEncodedDelim},
		{"reject/encoded-hash", "/a%23b", errEncodedDelim},
		{"reject/raw-question", "/a?b", errRawChar},
		{"reject/raw-hash", "/a#b", errRawChar},
		{"reject/raw-space", "/a b", errRawChar},
		{"reject/raw-quote", `/a"b`, errRawChar},
		{"reject/raw-brace", "/a{b", errRawChar},
		{"reject/raw-bracket", "/a[0]", errRawChar},
		{"reject/raw-non-ascii", "/caf\xc3\xa9", errRawChar},
		{"reject/invalid-utf8-ff", "/%FF", errInvalidUTF8},
		{"reject/invalid-utf8-continuation", "/%80", errInvalidUTF8},
		{"reject/truncated-utf8-end", "/%C3", errInvalidUTF8},
		{"reject/truncated-utf8-slash", "/%C3/a", errInvalidUTF8},
		{"reject/truncated-utf8-ascii", "/%C3a", errInvalidUTF8},
		{"reject/truncated-utf8-3byte", "/%E2%82", errInvalidUTF8},
		{"reject/overlong-dot-2byte", "/%C0%AE", errInvalidUTF8},
		{"reject/overlong-dot-3byte", "/%E0%80%AE", errInvalidUTF8},
		{"reject/overlong-dot-4byte", "/%F0%80%80%AE", errInvalidUTF8},
		{"reject/overlong-slash", "/%C0%AF", errInvalidUTF8},
		{"reject/overlong-a", "/%C1%81", errInvalidUTF8},
		{"reject/surrogate", "/%ED%A0%80", errInvalidUTF8},
		{"reject/above-max-rune", "/%F4%90%80%80", errInvalidUTF8},
		{"reject/five-byte-lead", "/%F8%88%80%80%80", errInvalidUTF8},
		{"reject/double-encoded-dot", "/%252e", errDoubleEncoding},
		{"reject/double-encoded-slash", "/a%252Fb", errDoubleEncoding},
		{"reject/double-encoded-digits", "/%25%32%65", errDoubleEncoding},
		{"reject/double-encoded-mixed", "/%25%32e", errDoubleEncoding},
		{"reject/double-encoded-iis-u", "/%25u002e", errDoubleEncoding},
		{"reject/empty-segment-root", "//", errEmptySegment},
		{"reject/empty-segment-leading", "//admin", errEmptySegment},
		{"reject/empty-segment-inner", "/a//b", errEmptySegment},
		{"reject/empty-segment-trailing", "/a//", errEmptySegment},
		{"reject/dot", "/.", errDotSegment},
		{"reject/dotdot", "/..", errDotSegment},
		{"reject/dot-leading", "/./a", errDotSegment},
		{"reject/dotdot-inner", "/a/../b", errDotSegment},
		{"reject/dot-trailing", "/a/.", errDotSegment},
		{"reject/dotdot-trailing-slash", "/a/../", errDotSegment},
		{"reject/encoded-dot", "/%2e", errDotSegment},
		{"reject/encoded-dotdot-mixed-case", "/%2E%2e/", errDotSegment},
		{"reject/half-encoded-dotdot", "/a/.%2e/b", errDotSegment},
		{"reject/space-at-segment-end", "/admin%20", errSpaceEdge},
		{"reject/space-at-segment-start", "/%20admin", errSpaceEdge},
		{"reject/space-before-slash", "/admin%20/x", errSpaceEdge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Canonicalize(tc.in)
			if err == nil {
				t.Fatalf("Canonicalize(%q) = %q, want refusal %v", tc.in, got, tc.want)
			}
			if err != tc.want { // the exact rule is the assertion
				t.Fatalf("Canonicalize(%q): %v, want %v", tc.in, err, tc.want)
			}
			if !errors.Is(err, ErrPath) {
				t.Fatalf("%v does not wrap ErrPath", err)
			}
			if got != "" {
				t.Fatalf("refusal returned %q", got)
			}
		})
	}
}

func TestCanonicalizeMaxLen(t *testing.T) {
	p := "/" + strings.Repeat("a", MaxPathLen-1)
	if got, err := Canonicalize(p); err != nil || got != p {
		t.Fatalf("path of MaxPathLen bytes: %v", err)
	}
}

// TestUTF8ValidRefusesOverlong pins the property the UTF-8 rule relies on:
// unicode/utf8 refuses overlong encodings and surrogates.
func TestUTF8ValidRefusesOverlong(t *testing.T) {
	for _, s := range []string{"\xc0\xae", "\xe0\x80\xae", "\xf0\x80\x80\xae", "\xc1\x81", "\xed\xa0\x80"} {
		if utf8.ValidString(s) {
			t.Errorf("utf8.ValidString(%q) = true", s)
		}
	}
}

func TestCanonicalizeCanonicalDoesNotAllocate(t *testing.T) {
	for _, p := range []string{"/api/notes/123", "/caf%C3%A9/%22x%22", "/"} {
		allocs := testing.AllocsPerRun(100, func() {
			if out, err := Canonicalize(p); err != nil || out != p {
				t.Fatalf("Canonicalize(%q) = %q, %v", p, out, err)
			}
		})
		if allocs != 0 {
			t.Errorf("Canonicalize(%q): %v allocations, want 0", p, allocs)
		}
	}
}

func TestRequestPath(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"accept/origin-form", "/a/b", "/a/b"},
		{"accept/origin-form-query", "/a/b?x=/c", "/a/b"},
		{"accept/origin-form-empty-query", "/a?", "/a"},
		{"accept/absolute-form", "http://h.test/a?x", "/a"},
		{"accept/absolute-form-https-upper", "HTTPS://h.test:8443/a", "/a"},
		{"accept/absolute-form-empty-path", "http://h.test", "/"},
		{"accept/absolute-form-query-only", "http://h.test?x=/admin", "/"},
		{"accept/escapes-untouched", "/a%2Fb", "/a%2Fb"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RequestPath(tc.in)
			if err != nil || got != tc.want {
				t.Fatalf("RequestPath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
	for name, in := range map[string]string{
		"reject/asterisk-form":  "*",
		"reject/authority-form": "h.test:443",
		"reject/other-scheme":   "ftp://h.test/a",
		"reject/fragment-host":  "http://h.test#/a",
		"reject/empty":          "",
	} {
		t.Run(name, func(t *testing.T) {
			if got, err := RequestPath(in); !errors.Is(err, ErrPath) {
				t.Fatalf("RequestPath(%q) = %q, %v; want ErrPath", in, got, err)
			}
		})
	}
}

// TestEscapedPathLosesEncodedSlash shows why the raw request target is
// canonicalized, not r.URL.EscapedPath: with an unusual escape beside it, a
// %2F comes back from EscapedPath as a real "/".
func TestEscapedPathLosesEncodedSlash(t *testing.T) {
	const target = "/admin%2F..%2Fpublic{"
	u, err := url.ParseRequestURI(target)
	if err != nil {
		t.Fatal(err)
	}
	if esc := u.EscapedPath(); strings.Contains(esc, "%2F") {
		t.Fatalf("EscapedPath kept %%2F (%q): the premise of RequestPath changed", esc)
	}
	p, err := RequestPath(target)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Canonicalize(p); !errors.Is(err, ErrPath) {
		t.Fatalf("Canonicalize(%q) accepted an encoded slash", p)
	}
}

func TestSegmentPrefix(t *testing.T) {
	cases := []struct {
		name, path, prefix string
		want               bool
	}{
		{"match/exact", "/api/notes", "/api/notes", true},
		{"match/child", "/api/notes/1", "/api/notes", true},
		{"match/child-trailing-slash", "/api/notes/", "/api/notes", true},
		{"match/root-prefix", "/anything", "/", true},
		{"match/root-prefix-root", "/", "/", true},
		{"match/slash-prefix-child", "/api/notes/1", "/api/notes/", true},
		{"match/slash-prefix-exact", "/api/notes/", "/api/notes/", true},
		{"nomatch/longer-segment", "/api/notesX", "/api/notes", false},
		{"nomatch/extension", "/api/notes.json", "/api/notes", false},
		{"nomatch/slash-prefix-parent", "/api/notes", "/api/notes/", false},
		{"nomatch/shorter", "/api", "/api/notes", false},
		{"nomatch/sibling", "/api/users", "/api/notes", false},
		{"nomatch/encoded-tail", "/api/notes%20", "/api/notes", false},
		{"nomatch/empty-prefix", "/api", "", false},
		{"nomatch/relative-prefix", "/api", "api", false},
		{"nomatch/case", "/API/notes", "/api/notes", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := SegmentPrefix(tc.path, tc.prefix); got != tc.want {
				t.Fatalf("SegmentPrefix(%q, %q) = %v, want %v", tc.path, tc.prefix, got, tc.want)
			}
			if got := segmentPrefixReference(tc.path, tc.prefix); got != tc.want {
				t.Fatalf("reference(%q, %q) = %v, want %v", tc.path, tc.prefix, got, tc.want)
			}
		})
	}
}

// bypassAdvisories are the advisories issue 12 names; the corpus must cite
// each, so a case cannot silently disappear with its comment.
var bypassAdvisories = []string{
	"CVE-2019-9901", "CVE-2021-29492", "GHSA-p224-6x5r-fjpm", "CVE-2023-33189",
	"CVE-2026-35051", "CVE-2026-39858", "CVE-2025-64484", "GHSA-7rh7-c77v-6434",
}

// TestBypassCorpus replays testdata/bypass against a protected /admin route:
// every attack is refused, or its canonical form still lies under /admin
// (for the gateway and, decoded, for the upstream), so the route's auth
// applies.
func TestBypassCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "bypass", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	var comments strings.Builder
	cases := 0
	for _, file := range files {
		cases += replayCorpus(t, file, &comments)
	}
	for _, id := range bypassAdvisories {
		if !strings.Contains(comments.String(), id) {
			t.Errorf("corpus cites no case for %s", id)
		}
	}
	if cases < 50 {
		t.Errorf("corpus has %d cases, want at least 50", cases)
	}
}

func replayCorpus(t *testing.T, file string, comments *strings.Builder) int {
	t.Helper()
	f, err := os.Open(file) // #nosec G304 -- a test reading its own testdata
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	n, cases := 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			comments.WriteString(line + "\n")
			continue
		}
		target, want, ok := strings.Cut(line, "\t")
		if !ok || strings.Contains(want, "\t") || target == "" {
			t.Fatalf("%s:%d: want TARGET<TAB>EXPECT, got %q", file, n, line)
		}
		cases++
		t.Run(filepath.Base(file)+":"+target, func(t *testing.T) {
			checkBypass(t, target, want)
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

func checkBypass(t *testing.T, target, want string) {
	t.Helper()
	got, err := RequestPath(target)
	if err == nil {
		got, err = Canonicalize(got)
	}
	if want == "reject" {
		if err == nil {
			t.Fatalf("%q accepted as %q, want refusal", target, got)
		}
		return
	}
	if err != nil || got != want {
		t.Fatalf("%q = %q, %v; want %q", target, got, err, want)
	}
	if !SegmentPrefix(got, "/admin") {
		t.Fatalf("%q canonicalizes to %q, outside the protected /admin route", target, got)
	}
	decoded, err := url.PathUnescape(got)
	if err != nil || !SegmentPrefix(decoded, "/admin") {
		t.Fatalf("upstream reads %q (%v), outside /admin", decoded, err)
	}
}
