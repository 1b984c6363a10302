package jwtauth

import (
	"net/url"
	"strings"
	"testing"
)

var originCases = []struct {
	name, in, want string // want "" means refused
}{
	{"accept/https", "https://api.example.test", "https://api.example.test"},
	{"accept/upper-case", "HTTPS://API.Example.TEST", "https://api.example.test"},
	{"accept/default-https-port", "https://api.example.test:443", "https://api.example.test"},
	{"accept/default-http-port", "http://127.0.0.1:80", "http://127.0.0.1"},
	{"accept/other-port", "http://127.0.0.1:9001", "http://127.0.0.1:9001"},
	{"accept/https-on-80", "https://x.test:80", "https://x.test:80"},
	{"accept/trailing-slash", "https://api.example.test/", "https://api.example.test"},
	{"accept/ipv6", "http://[::1]:9001", "http://[::1]:9001"},
	{"accept/ipv6-canonical", "https://[2001:DB8:0:0::1]:443", "https://[2001:db8::1]"},
	{"accept/underscore-host", "http://notes_api:8080", "http://notes_api:8080"},
	{"accept/single-label", "http://localhost:9001", "http://localhost:9001"},
	{"reject/empty", "", ""},
	{"reject/no-scheme", "api.example.test", ""},
	{"reject/ftp", "ftp://api.example.test", ""},
	{"reject/path", "https://api.example.test/api", ""},
	{"reject/double-slash", "https://api.example.test//", ""},
	{"reject/query", "https://api.example.test?x=1", ""},
	{"reject/fragment", "https://api.example.test#x", ""},
	{"reject/userinfo", "https://user@api.example.test", ""},
	{"reject/userinfo-password", "https://a:b@api.example.test", ""},
	{"reject/percent-host", "https://ap%69.example.test", ""},
	{"reject/backslash", "https://api.example.test\\@evil.test", ""},
	{"reject/unicode-host", "https://bücher.example", ""},
	{"reject/space", "https://api .example.test", ""},
	{"reject/empty-host", "https://", ""},
	{"reject/empty-port", "https://api.example.test:", ""},
	{"reject/port-zero", "https://api.example.test:0", ""},
	{"reject/port-too-big", "https://api.example.test:65536", ""},
	{"reject/port-leading-zero", "https://api.example.test:0443", ""},
	{"reject/port-sign", "https://api.example.test:+443", ""},
	{"reject/port-letters", "https://api.example.test:https", ""},
	{"reject/trailing-dot", "https://api.example.test.", ""},
	{"reject/empty-label", "https://api..example.test", ""},
	{"reject/long-label", "https://" + strings.Repeat("a", 64) + ".test", ""},
	{"reject/short-ipv4", "http://127.1", ""},
	{"reject/hex-ipv4", "http://0x7f.0.0.1", ""},
	{"reject/octal-ipv4", "http://0177.0.0.1", ""},
	{"reject/decimal-ipv4", "http://2130706433", ""},
	{"reject/ipv4-out-of-range", "http://256.0.0.1", ""},
	{"reject/ipv6-zone", "http://[fe80::1%25eth0]", ""},
	{"reject/ipv6-unclosed", "http://[::1", ""},
	{"reject/ipv6-junk", "http://[::1]x", ""},
	{"reject/ipv6-empty-port", "http://[::1]:", ""},
	{"reject/ipv4-in-brackets", "http://[127.0.0.1]", ""},
	{"reject/bare-ipv6", "http://::1", ""},
	{"reject/too-long", "https://" + strings.Repeat("a.", 200) + "test", ""},
}

func TestNormalizeOrigin(t *testing.T) {
	for _, tc := range originCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeOrigin(tc.in)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("NormalizeOrigin(%q) = %q, want an error", tc.in, got)
				}
				if !strings.HasPrefix(err.Error(), "jwtauth: origin: ") {
					t.Fatalf("error %q lacks the package prefix", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("NormalizeOrigin(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

// FuzzNormalizeOrigin checks that an accepted origin is canonical (a fixed
// point), lower case, and parses with net/url as exactly scheme and host:
// what the verifier compares is what any URL library sees.
func FuzzNormalizeOrigin(f *testing.F) {
	for _, tc := range originCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NormalizeOrigin(in)
		if err != nil {
			return
		}
		again, err := NormalizeOrigin(out)
		if err != nil || again != out {
			t.Fatalf("not a fixed point: %q -> %q -> %q, %v", in, out, again, err)
		}
		if strings.ToLower(out) != out {
			t.Fatalf("%q -> %q is not lower case", in, out)
		}
		u, err := url.Parse(out)
		if err != nil || u.Scheme+"://"+u.Host != out || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
			t.Fatalf("%q -> %q does not parse back as an origin: %+v, %v", in, out, u, err)
		}
		if (u.Scheme == "https" && u.Port() == "443") || (u.Scheme == "http" && u.Port() == "80") {
			t.Fatalf("%q -> %q keeps the default port", in, out)
		}
	})
}
