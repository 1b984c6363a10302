package oauth

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestClipRuneBoundary: clip never cuts a multi-byte character in half
// (the half made audit events invalid, so they were dropped).
func TestClipRuneBoundary(t *testing.T) {
	for name, s := range map[string]string{
		"accept/ascii-short":       "web",
		"accept/two-byte-at-cut":   strings.Repeat("a", clipLen-1) + "é" + "tail",
		"accept/three-byte-at-cut": strings.Repeat("a", clipLen-2) + "\u202e" + "tail",
		"accept/four-byte-at-cut":  strings.Repeat("a", clipLen-1) + "😀" + "tail",
		"accept/all-multibyte":     strings.Repeat("ü", 100),
	} {
		t.Run(name, func(t *testing.T) {
			got := clip(s)
			if !utf8.ValidString(got) {
				t.Fatalf("clip(%q) = %q is not valid UTF-8", s, got)
			}
			if len(strings.TrimSuffix(got, "…")) > clipLen || !strings.HasPrefix(s, strings.TrimSuffix(got, "…")) {
				t.Fatalf("clip(%q) = %q", s, got)
			}
		})
	}
}

// FuzzClip: for valid UTF-8 input, clip's output is valid UTF-8, a prefix
// of the input of at most clipLen bytes (plus "…" when it was cut).
func FuzzClip(f *testing.F) {
	f.Add("web")
	f.Add(strings.Repeat("a", 39) + "é")
	f.Add(strings.Repeat("\u202e", 20))
	f.Fuzz(func(t *testing.T, s string) {
		got := clip(s)
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("clip(%q) = %q is not valid UTF-8", s, got)
		}
		kept := strings.TrimSuffix(got, "…")
		if len(kept) > clipLen || !strings.HasPrefix(s, kept) || (got != s && !strings.HasSuffix(got, "…")) {
			t.Fatalf("clip(%q) = %q", s, got)
		}
	})
}
