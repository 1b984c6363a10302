package secrets

import (
	"errors"
	"strings"
	"testing"
)

func TestParsePathAccepts(t *testing.T) {
	for _, s := range []string{"a", "team/service/name", "0", "a.b/c_d/e-f", "team/db/prod.password", strings.Repeat("a", 63),
		strings.TrimSuffix(strings.Repeat("a/", 16), "/"), strings.TrimSuffix(strings.Repeat(strings.Repeat("b", 15)+"/", 16), "/")} {
		p, err := ParsePath(s)
		if err != nil || p.String() != s {
			t.Errorf("ParsePath(%q) = %q, %v", s, p, err)
		}
	}
}

func TestParsePathRefusesTraversalAndConfusion(t *testing.T) {
	long := strings.Repeat(strings.Repeat("c", 63)+"/", 4) + "a" // 257 bytes in 5 segments
	if len(long) != 257 {
		t.Fatalf("len %d", len(long))
	}
	for _, s := range []string{
		"", "..", ".", "a/..", "../a", "a/../b", "a/./b", "./a", "a/.", "%2e%2e", "a/%2e%2e/b", "%2F", "a%2fb",
		"a//b", "/a", "a/", "/", "a\x00b", "a/\x00", "\x00",
		"Team/a", "a/B", "ＡＢ", "a\u2215b", "a\u2044b", "a\uff0fb", "ａ", "a\u200bb", "café", "a\\b", "a b", " a", "a\tb", "a\nb",
		"a/..b", "a..b", "-a", "_a", ".a", "a/.hidden",
		long, strings.Repeat("a/", 17) + "a", strings.Repeat("a", 64),
		"a?b", "a#b", "a;b", "a'b", "a\"b", "*", "a/*",
	} {
		p, err := ParsePath(s)
		if err == nil {
			t.Errorf("ParsePath(%q) = %q, want an error", s, p)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("ParsePath(%q) error %v is not ErrInvalid", s, err)
		}
		if strings.ContainsRune(err.Error(), 0) {
			t.Errorf("error echoes input: %q", err)
		}
	}
}

func TestPrefixCoversWholeSegments(t *testing.T) {
	mp := func(s string) Path {
		p, err := ParsePath(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	pre, err := ParsePrefix("team/a")
	if err != nil {
		t.Fatal(err)
	}
	for s, want := range map[string]bool{"team/a": true, "team/a/x": true, "team/a/x/y": true, "team/ab": false, "team/ab/x": false, "team": false, "team/a.b": false, "team/a-b": false, "other/team/a": false} {
		if got := pre.Covers(mp(s)); got != want {
			t.Errorf("team/a covers %q = %v, want %v", s, got, want)
		}
	}
	all, err := ParsePrefix("*")
	if err != nil || !all.Covers(mp("x/y")) || all.String() != "*" || !all.All() {
		t.Fatal("* prefix")
	}
	if (Prefix{}).Covers(mp("a")) {
		t.Fatal("zero prefix covers")
	}
	for _, s := range []string{"", "team/", "team/*", "**", "/", "team/a/"} {
		if _, err := ParsePrefix(s); err == nil {
			t.Errorf("ParsePrefix(%q) accepted", s)
		}
	}
}

func TestValidLabel(t *testing.T) {
	for _, s := range []string{"current", "pending", "previous", "a", "blue-green", "v_2", "a" + strings.Repeat("b", 31)} {
		if err := ValidLabel(s); err != nil {
			t.Errorf("ValidLabel(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "Current", "1abc", "-a", "_a", "a b", "a" + strings.Repeat("b", 32), "a.b", "a/b", "a'--", "a\x00"} {
		if err := ValidLabel(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidLabel(%q) = %v", s, err)
		}
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"a", "team/a/b", "..", "a//b", "a/", "%2e", "A", "a\x00", strings.Repeat("a/", 17)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			return
		}
		if string(p) != s {
			t.Fatalf("ParsePath(%q) = %q", s, p)
		}
		again, err := ParsePath(p.String())
		if err != nil || again != p {
			t.Fatalf("re-parse of %q: %q, %v", p, again, err)
		}
		if len(s) > maxPathLen || strings.Contains(s, "..") || strings.Contains(s, "//") || strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") || strings.ToLower(s) != s {
			t.Fatalf("ParsePath accepted %q", s)
		}
		for _, seg := range strings.Split(s, "/") {
			if seg == "." || seg == ".." || seg == "" {
				t.Fatalf("ParsePath accepted segment %q in %q", seg, s)
			}
		}
	})
}

func FuzzPrefixCovers(f *testing.F) {
	f.Add("team/a", "team/ab")
	f.Add("team/a", "team/a/b")
	f.Add("*", "x")
	f.Add("a", "a")
	f.Fuzz(func(t *testing.T, pre, path string) {
		px, err := ParsePrefix(pre)
		if err != nil {
			return
		}
		p, err := ParsePath(path)
		if err != nil {
			return
		}
		if px.All() {
			if !px.Covers(p) {
				t.Fatal("* does not cover")
			}
			return
		}
		want := path == pre || strings.HasPrefix(path, pre+"/")
		if got := px.Covers(p); got != want {
			t.Fatalf("%q covers %q = %v, want %v", pre, path, got, want)
		}
	})
}
