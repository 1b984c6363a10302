package gateway

import (
	"net/url"
	"path"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCanonicalize checks the contract of Canonicalize on any input: no
// panic; an accepted path is canonical (idempotent), absolute, free of dot
// and empty segments, encoded slashes and NUL, valid UTF-8 once decoded; and
// the upstream's reading agrees: net/url decodes it and path.Clean leaves
// the result unchanged (but for the one trailing "/" Canonicalize keeps and
// Clean drops).
func FuzzCanonicalize(f *testing.F) {
	for _, s := range []string{
		"/", "/api/notes/1", "/api/notes/", "/%61dmin", "/caf%c3%a9", "/a%20b",
		"/100%25", "/100%25zz", "/.well-known/x", "/%F0%9F%98%80",
		"//", "/./a", "/a/../b", "/%2e%2E", "/a%2Fb", "/a%5Cb", "/a\\b", "/a%00",
		"/admin;x=y/", "/%252e", "/%25%32%65", "/%C0%AE", "/%E0%80%AE", "/%ED%A0%80",
		"/%u002e", "/a%", "/a%G1", "/a%3Fb", "/admin%20", "/%C2%85", "/caf\xc3\xa9",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out, err := Canonicalize(raw)
		if err != nil {
			if out != "" {
				t.Fatalf("refusal %v returned %q", err, out)
			}
			return
		}
		checkCanonical(t, raw, out)
	})
}

func checkCanonical(t *testing.T, raw, out string) {
	t.Helper()
	if again, err := Canonicalize(out); err != nil || again != out {
		t.Fatalf("%q -> %q not idempotent: %q, %v", raw, out, again, err)
	}
	if !strings.HasPrefix(out, "/") || len(out) > len(raw) {
		t.Fatalf("%q -> %q", raw, out)
	}
	up := strings.ToUpper(out)
	if strings.Contains(out, "//") || strings.Contains(up, "%2F") || strings.Contains(up, "%00") ||
		strings.ContainsAny(out, "\x00\\;?#") {
		t.Fatalf("%q -> %q carries a refused form", raw, out)
	}
	for _, seg := range strings.Split(out, "/") {
		if seg == "." || seg == ".." {
			t.Fatalf("%q -> %q has a dot segment", raw, out)
		}
	}
	decoded, err := url.PathUnescape(out)
	if err != nil || !utf8.ValidString(decoded) || strings.ContainsRune(decoded, 0) {
		t.Fatalf("%q -> %q decodes to %q, %v", raw, out, decoded, err)
	}
	want := decoded
	if len(want) > 1 && strings.HasSuffix(want, "/") {
		want = want[:len(want)-1]
	}
	if clean := path.Clean(decoded); clean != want {
		t.Fatalf("%q -> %q: upstream reads %q, path.Clean %q", raw, out, decoded, clean)
	}
	if reenc := (&url.URL{Path: decoded}).EscapedPath(); !sameDecoding(reenc, decoded) {
		t.Fatalf("%q -> %q: net/url re-encodes to %q", raw, out, reenc)
	}
}

// sameDecoding reports whether the escaped path esc decodes to decoded.
func sameDecoding(esc, decoded string) bool {
	d, err := url.PathUnescape(esc)
	return err == nil && d == decoded
}

// FuzzSegmentPrefix checks SegmentPrefix against a reference that compares
// "/"-separated segments.
func FuzzSegmentPrefix(f *testing.F) {
	for _, s := range [][2]string{
		{"/api/notes", "/api/notes"}, {"/api/notes/1", "/api/notes"}, {"/api/notesX", "/api/notes"},
		{"/api/notes.json", "/api/notes"}, {"/api/notes", "/api/notes/"}, {"/x", "/"}, {"/", ""},
		{"//", "//"}, {"/a", "a"}, {"", "/"}, {"/a//b", "/a/"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, p, prefix string) {
		if got, want := SegmentPrefix(p, prefix), segmentPrefixReference(p, prefix); got != want {
			t.Fatalf("SegmentPrefix(%q, %q) = %v, reference %v", p, prefix, got, want)
		}
	})
}

// segmentPrefixReference is SegmentPrefix written the slow, obvious way:
// prefix's segments equal path's first segments; a trailing "/" in prefix
// adds an empty last segment that path's next segment, whatever it is,
// satisfies, provided path has one.
func segmentPrefixReference(p, prefix string) bool {
	if !strings.HasPrefix(prefix, "/") {
		return false
	}
	ps, xs := strings.Split(prefix, "/"), strings.Split(p, "/")
	if len(xs) < len(ps) {
		return false
	}
	n := len(ps)
	if ps[n-1] == "" {
		n-- // trailing "/": path needs a segment there, of any value
	}
	for i := 0; i < n; i++ {
		if ps[i] != xs[i] {
			return false
		}
	}
	return true
}
