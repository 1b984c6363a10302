package oauth

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
)

// FuzzNormalizeUserCode: anything typed either is refused or becomes 8
// letters of the alphabet; the result is stable (normalizing it, or its
// XXXX-XXXX display, in either case, gives it back), and it only drops
// dashes and blanks from what was typed, never invents a letter.
func FuzzNormalizeUserCode(f *testing.F) {
	for _, s := range []string{"BCDF-GHJK", "bcdfghjk", "bcdf ghjk", "BCDF--GHJK", "BCDF-GHJ", "AEIO-UY01", "ＢCDF-GHJK", "bcdf-ghjk-", strings.Repeat("B", 40), ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, typed string) {
		got, err := NormalizeUserCode(typed)
		if err != nil {
			return
		}
		if len(got) != userCodeLen || strings.Trim(got, userCodeAlphabet) != "" {
			t.Fatalf("%q normalized to %q", typed, got)
		}
		for _, again := range []string{got, displayUserCode(got), strings.ToLower(displayUserCode(got))} {
			if n, err := NormalizeUserCode(again); err != nil || n != got {
				t.Fatalf("%q: not stable (%q %v)", again, n, err)
			}
		}
		kept := strings.Map(func(r rune) rune {
			if r == '-' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, strings.ToUpper(typed))
		if kept != got {
			t.Fatalf("%q normalized to %q, want %q", typed, got, kept)
		}
	})
}

// TestNormalizeUserCode: the accepted spellings of one code and refusals.
func TestNormalizeUserCode(t *testing.T) {
	for _, ok := range []string{"BCDF-GHJK", "bcdf-ghjk", "BcDfGhJk", " bcdf - ghjk "} {
		if got, err := NormalizeUserCode(ok); err != nil || got != "BCDFGHJK" {
			t.Errorf("accept %q: %q %v", ok, got, err)
		}
	}
	// Vowels, digits, a second dash, too short, too long, non-ASCII
	// look-alikes (fullwidth B) are not codes.
	for _, bad := range []string{"ABCD-FGHJ", "BCDF-GHJ1", "BC-DF-GHJK", "BCDF-GHJ", "BCDF-GHJKL", "ＢCDF-GHJK", "", strings.Repeat(" ", 40)} {
		if got, err := NormalizeUserCode(bad); err == nil {
			t.Errorf("accepted %q as %q", bad, got)
		}
	}
}

// TestNewUserCode: codes are 8 letters of the alphabet, every letter
// drawn, and bytes ≥ 240 are rejected (no modulo bias).
func TestNewUserCode(t *testing.T) {
	seen := map[byte]bool{}
	for range 200 {
		c, err := newUserCode(rand.Reader)
		if err != nil || len(c) != userCodeLen || strings.Trim(c, userCodeAlphabet) != "" {
			t.Fatalf("%q %v", c, err)
		}
		for i := range len(c) {
			seen[c[i]] = true
		}
	}
	if len(seen) != len(userCodeAlphabet) {
		t.Fatalf("only %d of %d letters drawn in 1600", len(seen), len(userCodeAlphabet))
	}
	// 16 bytes of 0xff then 'B' for every position: only the latter count.
	src := append(bytes.Repeat([]byte{0xff}, 16), bytes.Repeat([]byte{0}, 16)...)
	if c, err := newUserCode(bytes.NewReader(src)); err != nil || c != "BBBBBBBB" {
		t.Fatalf("biased draw: %q %v", c, err)
	}
}
