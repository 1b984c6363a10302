package upstream

import (
	"strings"
	"testing"
)

// FuzzValidateURLs: Validate never panics, and an accepted URL's
// normalized form is accepted again, unchanged (so configuration,
// Status, the Sharder's identities and the assertion's aud agree), with
// no user information, query, fragment or percent-encoding left.
func FuzzValidateURLs(f *testing.F) {
	for _, s := range []string{
		"http://127.0.0.1:9001", "https://notes.example.test/api/v1/", "HTTP://A:80", "https://[::1]:8443/x",
		"http://user@a", "http://a/%2e%2e/", "http://a/../b", "http://a?x", "ftp://a", "http://0x7f.1",
		"http://[fe80::1%25eth0]", "http://a:0", "http://a:65536", "http://a\\b", "//a", "http:/a", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		err := Validate(Options{Route: raw, URLs: []string{raw}})
		tg, perr := parseTarget(raw)
		if (err == nil) != (perr == nil) {
			t.Fatalf("Validate %v but parseTarget %v", err, perr)
		}
		if err != nil {
			return
		}
		s := tg.URL.String()
		again, err := parseTarget(s)
		if err != nil {
			t.Fatalf("%q normalized to %q, which is refused: %v", raw, s, err)
		}
		if again.URL.String() != s || again.Origin != tg.Origin {
			t.Fatalf("%q -> %q -> %q: not stable", raw, s, again.URL)
		}
		if !strings.HasPrefix(s, tg.Origin) || tg.URL.User != nil || tg.URL.RawQuery != "" ||
			tg.URL.Fragment != "" || strings.Contains(s, "%") {
			t.Fatalf("%q accepted as %q (origin %q)", raw, s, tg.Origin)
		}
		if tg.URL.Scheme != "http" && tg.URL.Scheme != "https" {
			t.Fatalf("%q accepted with scheme %q", raw, tg.URL.Scheme)
		}
	})
}
