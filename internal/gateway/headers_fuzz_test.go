package gateway

import (
	"errors"
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// fuzzHeader builds a header from lines "name:value" (split on the first
// ':'), keys stored exactly as given, as a caller could set them in the
// map, plus the Connection list conn.
func fuzzHeader(data, conn string) http.Header {
	h := http.Header{}
	for line := range strings.SplitSeq(data, "\n") {
		name, value, _ := strings.Cut(line, ":")
		h[name] = append(h[name], value)
	}
	if conn != "" {
		h["Connection"] = append(h["Connection"], conn)
	}
	return h
}

// isConnectionKey reports whether key spells Connection.
func isConnectionKey(key string) bool {
	return refNorm(key) == "connection"
}

func FuzzStripInbound(f *testing.F) {
	f.Add("X_Forwarded_For:1.2.3.4\nAccept:*/*", "X-Rampart-Subject, keep-alive", false)
	f.Add(" X-Forwarded-For:1.2.3.4\nx-rampart-subject:admin\nAuthorization:Bearer a", "", true)
	f.Add("authorization:Bearer a\nAuthorization:Bearer b\nProxy_Authorization:x", "Authorization", true)
	f.Add("X.Real.IP:1\nTrue_Client_IP:2\nX-Original-URL:/admin\nX-Request-Id:3", "x_original_url,close", false)
	f.Add("connection:X-Forwarded-Host\nX-Forwarded-Host:evil\n\u00a0Forwarded\u00a0:for=1", ",,", false)
	f.Add("Content-Type:application/json\nCookie:a=b", "Upgrade", false)
	f.Fuzz(func(t *testing.T, data, conn string, forward bool) {
		h := fuzzHeader(data, conn)
		orig := h.Clone()
		StripInbound(h, forward)
		for key, vals := range h {
			n := refNorm(key)
			if refForbidden(n, forward) {
				t.Fatalf("%q (normal form %q) survived", key, n)
			}
			if n == "authorization" && key != "Authorization" {
				t.Fatalf("non-canonical %q forwarded", key)
			}
			if !isConnectionKey(key) {
				if !reflect.DeepEqual(vals, orig[key]) {
					t.Fatalf("%q changed: %q -> %q", key, orig[key], vals)
				}
				continue
			}
			for _, v := range vals {
				for opt := range strings.SplitSeq(v, ",") {
					if refForbidden(refNorm(opt), forward) {
						t.Fatalf("Connection still names %q", opt)
					}
				}
			}
		}
		// Nothing that is not the filter's business was removed: a key is
		// gone only when normName's fold of it is forbidden.
		for key := range orig {
			if _, ok := h[key]; ok || isConnectionKey(key) {
				continue
			}
			if !removes(classify(key), key, forward) {
				t.Fatalf("%q removed although not forbidden", key)
			}
		}
		// A second pass finds nothing more to do.
		again := h.Clone()
		StripInbound(again, forward)
		if !reflect.DeepEqual(again, h) {
			t.Fatalf("not idempotent: %q -> %q", h, again)
		}
	})
}

func FuzzForwarded(f *testing.F) {
	f.Add("192.0.2.1", "https", "api.example.test")
	f.Add("2001:db8::1", "http", "[2001:db8::2]:8443")
	f.Add("::ffff:10.0.0.1", "https", "h:443")
	f.Add("fe80::1%eth0", "https", "")
	f.Add("192.0.2.1", "https", "h\r\nX-Rampart-Subject: admin")
	f.Add("192.0.2.1", "https;for=1.1.1.1", "h,for=\"[::1]\"")
	f.Add("bogus", "https", "h")
	f.Fuzz(func(t *testing.T, addr, proto, host string) {
		client, _ := netip.ParseAddr(addr)
		h := http.Header{"Accept": {"*/*"}}
		err := SetForwarded(h, client, proto, host)
		if err != nil {
			if !errors.Is(err, errHeaderValue) || len(h) != 1 {
				t.Fatalf("refusal %v changed the header: %q", err, h)
			}
			return
		}
		if !client.IsValid() || (proto != "http" && proto != "https") ||
			strings.ContainsAny(host, "\r\n\x00 \t,;\"\\") {
			t.Fatalf("accepted client %q proto %q host %q", addr, proto, host)
		}
		want := client.Unmap().WithZone("")
		for k, vs := range h {
			for _, v := range vs {
				if !visibleOrSpace(v) {
					t.Fatalf("%s value %q holds a control byte", k, v)
				}
			}
		}
		if xff := h["X-Forwarded-For"]; len(xff) != 1 || netip.MustParseAddr(xff[0]) != want {
			t.Fatalf("X-Forwarded-For %q, want %v", xff, want)
		}
		fwd := h["Forwarded"]
		if len(fwd) != 1 {
			t.Fatalf("Forwarded %q", fwd)
		}
		elems, perr := parseForwarded(fwd[0])
		if perr != nil || len(elems) != 1 {
			t.Fatalf("Forwarded %q does not parse to one element: %v", fwd[0], perr)
		}
		e := elems[0]
		got, aerr := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(e["for"], "["), "]"))
		if aerr != nil || got != want {
			t.Fatalf("Forwarded for=%q, want %v", e["for"], want)
		}
		if got.Is6() && !strings.HasPrefix(e["for"], "[") {
			t.Fatalf("IPv6 node %q not bracketed", e["for"])
		}
		if e["proto"] != proto || e["host"] != host || len(e) != 2+btoi(host != "") {
			t.Fatalf("Forwarded pairs %q, want proto %q host %q", e, proto, host)
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// visibleOrSpace reports whether s holds only visible ASCII and spaces.
func visibleOrSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < 0x21 && s[i] != ' ') || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// parseForwarded parses an RFC 7239 §4 Forwarded field value into its
// elements, each a map of lowercased parameter names to unquoted values.
// It is strict: a duplicate parameter, an empty element or a malformed
// quoted-string is an error.
func parseForwarded(v string) ([]map[string]string, error) {
	var out []map[string]string
	p := &fwdParser{s: v}
	for {
		e := map[string]string{}
		for {
			p.ows()
			name := strings.ToLower(p.token())
			if name == "" || !p.eat('=') {
				return nil, errors.New("forwarded: expected name=")
			}
			val, ok := p.value()
			if !ok {
				return nil, errors.New("forwarded: bad value")
			}
			if _, dup := e[name]; dup {
				return nil, errors.New("forwarded: duplicate " + name)
			}
			e[name] = val
			p.ows()
			if !p.eat(';') {
				break
			}
		}
		out = append(out, e)
		if p.done() {
			return out, nil
		}
		if !p.eat(',') {
			return nil, errors.New("forwarded: trailing bytes")
		}
	}
}

// fwdParser is the cursor of parseForwarded.
type fwdParser struct {
	s string
	i int
}

func (p *fwdParser) done() bool { return p.i == len(p.s) }

func (p *fwdParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *fwdParser) ows() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *fwdParser) token() string {
	start := p.i
	for p.i < len(p.s) && isTcharRef(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// value reads a token or a quoted-string (RFC 9110 §5.6.4).
func (p *fwdParser) value() (string, bool) {
	if !p.eat('"') {
		t := p.token()
		return t, t != ""
	}
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '"':
			return b.String(), true
		case c == '\\' && p.i < len(p.s):
			b.WriteByte(p.s[p.i])
			p.i++
		case c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7f):
			b.WriteByte(c)
		default:
			return "", false
		}
	}
	return "", false
}

// isTcharRef is RFC 9110 §5.6.2 tchar, written apart from isTchar.
func isTcharRef(c byte) bool {
	return c >= 0x21 && c <= 0x7e && !strings.ContainsRune("\"(),/:;<=>?@[\\]{}", rune(c))
}
