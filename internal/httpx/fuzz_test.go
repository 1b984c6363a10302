package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// FuzzClientRequestID: an accepted client request id is short, made of the
// allowed characters only, and logs as exactly one well-formed JSON line
// holding it unchanged.
func FuzzClientRequestID(f *testing.F) {
	for _, s := range []string{
		"0b7c6f1e-1d2a-4a3b-9c8d-7e6f5a4b3c2d", "01HZX3J6Q5B8", "trace:abc.def_1", "",
		"a\nb", `x","level":"ERROR`, "\x00", "é", strings.Repeat("a", 64), strings.Repeat("a", 65),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !validClientRequestID(s) {
			return
		}
		if len(s) == 0 || len(s) > maxClientRequestID {
			t.Fatalf("accepted length %d", len(s))
		}
		if strings.ContainsFunc(s, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._:-", r))
		}) {
			t.Fatalf("accepted %q", s)
		}
		var buf bytes.Buffer
		NewLogger(&buf, "info", "json").InfoContext(context.Background(), "m", "client_request_id", s)
		if bytes.Count(buf.Bytes(), []byte("\n")) != 1 {
			t.Fatalf("not one line: %q", buf.String())
		}
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil || m["client_request_id"] != s {
			t.Fatalf("log line %q: %v", buf.String(), err)
		}
	})
}

// FuzzSetCSP: whatever policy a page passes, the header stays one line of
// printable ASCII and framing stays governed by a frame-ancestors
// directive.
func FuzzSetCSP(f *testing.F) {
	for _, s := range []string{
		"", "default-src 'self'", "frame-ancestors 'self'", "a;b;;", "x\r\nSet-Cookie: a=b", "FRAME-ANCESTORS *", "\xff;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, policy string) {
		h := http.Header{}
		SetCSP(headerWriter(h), policy)
		got := h.Get("Content-Security-Policy")
		for i := 0; i < len(got); i++ {
			if got[i] < 0x20 || got[i] > 0x7e {
				t.Fatalf("byte %#x in %q", got[i], got)
			}
		}
		if !hasDirective(got, "frame-ancestors") {
			t.Fatalf("no frame-ancestors in %q", got)
		}
	})
}

// FuzzClientIP: any RemoteAddr yields, without panicking, the address part
// when it parses as an address and port.
func FuzzClientIP(f *testing.F) {
	for _, s := range []string{"192.0.2.1:1", "[::1]:80", "[::ffff:1.2.3.4]:5", "[fe80::1%eth0]:1", "", ":", "x:y:z", "1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, remote string) {
		got := ClientIP(&http.Request{RemoteAddr: remote})
		if ap, err := netip.ParseAddrPort(remote); err == nil {
			if want := ap.Addr().Unmap().String(); got != want {
				t.Fatalf("ClientIP(%q) = %q, want %q", remote, got, want)
			}
		}
	})
}

// FuzzScrubSecrets: scrubbing never panics, is idempotent, and a value
// after "password=" never survives.
func FuzzScrubSecrets(f *testing.F) {
	for _, s := range []string{
		"", "a=b", "password=x", "postgres://u:p@h/d", "://@", "://:@", "Bearer ", "bearer x", "BASIC", "x=y=z password==",
		"http://a:b@c:d@e/f", "=", "token=\"quoted\"", "é=password=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := scrubSecrets(s)
		if again := scrubSecrets(out); again != out {
			t.Fatalf("not idempotent: %q → %q → %q", s, out, again)
		}
		const marker = "password=SECRETVALUE"
		if o := scrubSecrets(s + " " + marker); strings.Contains(o, "SECRETVALUE") {
			t.Fatalf("survived: %q", o)
		}
	})
}
