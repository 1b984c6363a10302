package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/textproto"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// refNorm is the brief's normal form of a header name, written
// independently of normName: trimmed, lowercased, '_' and '.' read as '-'.
func refNorm(name string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	return strings.NewReplacer("_", "-", ".", "-").Replace(name)
}

// refForbidden reports whether a header whose name normalizes to n must
// not reach an upstream from a client.
func refForbidden(n string, forwardAuthorization bool) bool {
	for _, p := range []string{"x-rampart-", "x-forwarded-"} {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	switch n {
	case "forwarded", "x-forwarded", "x-rampart", "x-real-ip", "x-client-ip", "true-client-ip",
		"cf-connecting-ip", "x-cluster-client-ip", "x-original-forwarded-for",
		"x-original-url", "x-rewrite-url", "x-original-uri", "proxy-authorization":
		return true
	case "authorization":
		return !forwardAuthorization
	}
	return false
}

func TestStripInboundSpellings(t *testing.T) {
	cases := []struct {
		name, key string
		drop      bool
	}{
		{"drop/rampart-canonical", "X-Rampart-Subject", true},
		{"drop/rampart-lower", "x-rampart-subject", true},
		{"drop/rampart-upper-underscore", "X_RAMPART_SUBJECT", true},
		{"drop/rampart-mixed-separators", "X-Rampart_Subject", true},
		{"drop/rampart-dot", "X.Rampart.Subject", true},
		{"drop/rampart-unknown-member", "X-Rampart-Tomorrow", true},
		{"drop/rampart-client", "x_rampart_client", true},
		{"drop/rampart-scopes", "X-RAMPART-SCOPES", true},
		{"drop/rampart-assertion", "X-Rampart-Assertion", true},
		{"drop/rampart-peer-id", "X-Rampart-Peer-Id", true},
		{"drop/rampart-peer-id-underscore", "x_rampart_peer_id", true},
		{"drop/rampart-peer-id-upper", "X-RAMPART-PEER-ID", true},
		{"drop/xff-canonical", "X-Forwarded-For", true},
		{"drop/xff-lower", "x-forwarded-for", true},
		{"drop/xff-underscore", "X_Forwarded_For", true},
		{"drop/xff-leading-space-in-map", " X-Forwarded-For", true},
		{"drop/xff-trailing-tab-in-map", "X-Forwarded-For\t", true},
		{"drop/xff-surrounding-crlf-in-map", "\r\nX-Forwarded-For\r\n", true},
		{"drop/xff-interior-space-in-map", "X Forwarded For", true},
		{"drop/xf-proto", "X-Forwarded-Proto", true},
		{"drop/xf-host", "x_forwarded_host", true},
		{"drop/xf-port", "X-Forwarded-Port", true},
		{"drop/xf-prefix", "X-Forwarded-Prefix", true},
		{"drop/xf-server", "X-Forwarded-Server", true},
		{"drop/xf-ssl", "X-Forwarded-Ssl", true},
		{"drop/xf-uri", "X-Forwarded-Uri", true},
		{"drop/xf-client-ip", "X-Forwarded-Client-Ip", true},
		{"drop/xf-long-member", "X-Forwarded-" + strings.Repeat("Very-Long-", 10) + "Name", true},
		{"drop/x-forwarded-bare", "X-Forwarded", true},
		{"drop/forwarded", "Forwarded", true},
		{"drop/forwarded-upper", "FORWARDED", true},
		{"drop/forwarded-space", "  forwarded ", true},
		{"drop/real-ip", "X-Real-IP", true},
		{"drop/real-ip-underscore", "x_real_ip", true},
		{"drop/client-ip", "X-Client-IP", true},
		{"drop/true-client-ip", "True-Client-IP", true},
		{"drop/true-client-ip-underscore", "TRUE_CLIENT_IP", true},
		{"drop/cf-connecting-ip", "CF-Connecting-IP", true},
		{"drop/cluster-client-ip", "X-Cluster-Client-IP", true},
		{"drop/original-forwarded-for", "X-Original-Forwarded-For", true},
		{"drop/original-url", "X-Original-URL", true},
		{"drop/rewrite-url", "X-Rewrite-URL", true},
		{"drop/original-uri", "x_original_uri", true},
		{"drop/proxy-authorization", "Proxy-Authorization", true},
		{"drop/proxy-authorization-underscore", "proxy_authorization", true},
		{"keep/accept", "Accept", false},
		{"keep/content-type", "Content-Type", false},
		{"keep/request-id", "X-Request-Id", false},
		{"keep/user-agent", "User-Agent", false},
		{"keep/cookie", "Cookie", false},
		{"keep/forwarded-lookalike", "Forwardedness", false},
		{"drop/rampart-bare", "X_Rampart", true},
		{"keep/rampart-lookalike", "X-Rampartx", false},
		{"keep/real-ip-longer", "X-Real-IP-Note", false},
		{"keep/original-url-prefix", "X-Original", false},
		{"drop/not-a-token-empty", "", true},
		{"drop/not-a-token-only-space", "   ", true},
		{"drop/not-a-token-non-ascii", "X-Real-\u0130P", true},
		{"drop/not-a-token-nbsp", "\u00a0Accept", true},
		{"drop/not-a-token-colon", "Accept:", true},
		{"drop/trailing-separator", "X-Real-IP_", true},
		{"drop/leading-separator", "_Forwarded", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{c.key: {"spoof"}, "Accept": {"*/*"}}
			StripInbound(h, false)
			if _, present := h[c.key]; present == c.drop {
				t.Fatalf("key %q present=%v after StripInbound, want present=%v", c.key, present, !c.drop)
			}
			if got := h["Accept"]; len(got) != 1 || got[0] != "*/*" {
				t.Fatalf("Accept changed: %q", got)
			}
		})
	}
}

func TestStripInboundAuthorization(t *testing.T) {
	cases := []struct {
		name    string
		forward bool
		in      http.Header
		want    http.Header
	}{
		{"drop/not-forwarded", false,
			http.Header{"Authorization": {"Bearer a"}, "authorization": {"Bearer b"}},
			http.Header{}},
		{"keep/forwarded-canonical", true,
			http.Header{"Authorization": {"Bearer a"}},
			http.Header{"Authorization": {"Bearer a"}}},
		{"drop/forwarded-other-spellings", true,
			http.Header{"Authorization": {"Bearer a"}, "authorization": {"Bearer b"}, " Authorization": {"Bearer c"}, "AUTHORIZATION": {"Bearer d"}},
			http.Header{"Authorization": {"Bearer a"}}},
		{"drop/proxy-authorization-even-forwarded", true,
			http.Header{"Authorization": {"Bearer a"}, "Proxy-Authorization": {"Basic x"}},
			http.Header{"Authorization": {"Bearer a"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			StripInbound(c.in, c.forward)
			if !reflect.DeepEqual(c.in, c.want) {
				t.Fatalf("got %q, want %q", c.in, c.want)
			}
		})
	}
}

func TestStripInboundConnection(t *testing.T) {
	cases := []struct {
		name    string
		forward bool
		in      http.Header
		want    http.Header
	}{
		{"drop/lists-rampart-subject", false,
			http.Header{"Connection": {"X-Rampart-Subject"}, "X-Rampart-Subject": {"admin"}},
			http.Header{}},
		{"drop/lists-xff-keeps-keep-alive", false,
			http.Header{"Connection": {"keep-alive, X-Forwarded-For"}, "X-Forwarded-For": {"1.2.3.4"}},
			http.Header{"Connection": {"keep-alive"}}},
		{"drop/lists-odd-spellings", false,
			http.Header{"Connection": {" x_rampart_subject ,\tX.Forwarded.For,close", "X-Real-IP"}},
			http.Header{"Connection": {"close"}}},
		{"drop/non-canonical-connection-key", false,
			http.Header{"connection": {"X-Rampart-Scopes, Upgrade"}},
			http.Header{"connection": {"Upgrade"}}},
		{"drop/lists-authorization-not-forwarded", false,
			http.Header{"Connection": {"Authorization"}, "Authorization": {"Bearer a"}},
			http.Header{}},
		{"keep/lists-authorization-forwarded", true,
			http.Header{"Connection": {"Authorization"}, "Authorization": {"Bearer a"}},
			http.Header{"Connection": {"Authorization"}, "Authorization": {"Bearer a"}}},
		{"keep/legitimate-options", false,
			http.Header{"Connection": {"keep-alive, Upgrade", "TE"}, "Upgrade": {"websocket"}},
			http.Header{"Connection": {"keep-alive, Upgrade", "TE"}, "Upgrade": {"websocket"}}},
		{"keep/empty-elements-untouched-when-nothing-removed", false,
			http.Header{"Connection": {",, keep-alive ,"}},
			http.Header{"Connection": {",, keep-alive ,"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			StripInbound(c.in, c.forward)
			if !reflect.DeepEqual(c.in, c.want) {
				t.Fatalf("got %q, want %q", c.in, c.want)
			}
		})
	}
}

func TestStripInboundKeepsLegitimate(t *testing.T) {
	h := browserHeaders()
	h["X-Request-Id"] = []string{"3f2a"} // correlation only, not identity: kept
	want := h.Clone()
	StripInbound(h, true)
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("legitimate headers changed:\n got %q\nwant %q", h, want)
	}
}

// corpusLine is one line of testdata/header_spoofing.txt.
type corpusLine struct{ ref, line, name string }

// readCorpus returns the raw header lines of testdata/header_spoofing.txt.
func readCorpus(t testing.TB) []corpusLine {
	t.Helper()
	f, err := os.Open("testdata/header_spoofing.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []corpusLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		ref, line, ok := strings.Cut(text, " | ")
		name, _, ok2 := strings.Cut(line, ":")
		if !ok || !ok2 {
			t.Fatalf("corpus: malformed line %q", text)
		}
		out = append(out, corpusLine{ref: ref, line: line, name: name})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestStripInboundCorpus(t *testing.T) {
	for _, c := range readCorpus(t) {
		t.Run(c.ref+"/"+c.name, func(t *testing.T) {
			if !refForbidden(refNorm(c.name), false) {
				t.Fatalf("corpus name %q is not forbidden by the reference rules", c.name)
			}
			h := http.Header{c.name: {"x"}, http.CanonicalHeaderKey(c.name): {"y"}}
			StripInbound(h, false)
			if len(h) != 0 {
				t.Fatalf("left %q", h)
			}
		})
	}
}

func TestSetForwarded(t *testing.T) {
	cases := []struct {
		name, client, proto, host string
		wantXFF, wantFwd          string
	}{
		{"accept/ipv4", "192.0.2.7", "https", "api.example.test", "192.0.2.7", "for=192.0.2.7;proto=https;host=api.example.test"},
		{"accept/ipv6-quoted-brackets", "2001:db8::7", "http", "api.example.test", "2001:db8::7", `for="[2001:db8::7]";proto=http;host=api.example.test`},
		{"accept/ipv4-mapped-unmapped", "::ffff:192.0.2.8", "https", "h", "192.0.2.8", "for=192.0.2.8;proto=https;host=h"},
		{"accept/zone-dropped", "fe80::1%eth0", "https", "h", "fe80::1", `for="[fe80::1]";proto=https;host=h`},
		{"accept/host-port-quoted", "192.0.2.7", "https", "api.example.test:8443", "192.0.2.7", `for=192.0.2.7;proto=https;host="api.example.test:8443"`},
		{"accept/host-ipv6-literal", "192.0.2.7", "https", "[2001:db8::1]:443", "192.0.2.7", `for=192.0.2.7;proto=https;host="[2001:db8::1]:443"`},
		{"accept/no-host", "192.0.2.7", "http", "", "192.0.2.7", "for=192.0.2.7;proto=http"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{"X-Forwarded-Host": {"stale"}}
			if err := SetForwarded(h, netip.MustParseAddr(c.client), c.proto, c.host); err != nil {
				t.Fatal(err)
			}
			want := http.Header{"X-Forwarded-For": {c.wantXFF}, "X-Forwarded-Proto": {c.proto}, "Forwarded": {c.wantFwd}}
			if c.host != "" {
				want["X-Forwarded-Host"] = []string{c.host}
			}
			if !reflect.DeepEqual(h, want) {
				t.Fatalf("got %q, want %q", h, want)
			}
		})
	}
}

func TestSetForwardedRefuses(t *testing.T) {
	cases := []struct {
		name   string
		client netip.Addr
		proto  string
		host   string
	}{
		{"reject/no-client", netip.Addr{}, "https", "h"},
		{"reject/proto-upper", netip.MustParseAddr("192.0.2.1"), "HTTPS", "h"},
		{"reject/proto-injection", netip.MustParseAddr("192.0.2.1"), "https;for=1.1.1.1", "h"},
		{"reject/proto-empty", netip.MustParseAddr("192.0.2.1"), "", "h"},
		{"reject/host-crlf", netip.MustParseAddr("192.0.2.1"), "https", "h\r\nX-Rampart-Subject: admin"},
		{"reject/host-comma", netip.MustParseAddr("192.0.2.1"), "https", "h,for=1.1.1.1"},
		{"reject/host-semicolon", netip.MustParseAddr("192.0.2.1"), "https", "h;for=1.1.1.1"},
		{"reject/host-quote", netip.MustParseAddr("192.0.2.1"), "https", `h"`},
		{"reject/host-backslash", netip.MustParseAddr("192.0.2.1"), "https", `h\`},
		{"reject/host-space", netip.MustParseAddr("192.0.2.1"), "https", "h x"},
		{"reject/host-nul", netip.MustParseAddr("192.0.2.1"), "https", "h\x00"},
		{"reject/host-non-ascii", netip.MustParseAddr("192.0.2.1"), "https", "h\xc3\xa9"},
		{"reject/host-userinfo", netip.MustParseAddr("192.0.2.1"), "https", "admin@h"},
		{"reject/port-letters", netip.MustParseAddr("192.0.2.1"), "https", "h:https"},
		{"reject/port-empty", netip.MustParseAddr("192.0.2.1"), "https", "h:"},
		{"reject/port-too-long", netip.MustParseAddr("192.0.2.1"), "https", "h:123456"},
		{"reject/host-empty-with-port", netip.MustParseAddr("192.0.2.1"), "https", ":443"},
		{"reject/ipv6-unbracketed", netip.MustParseAddr("192.0.2.1"), "https", "2001:db8::1"},
		{"reject/ipv6-unclosed", netip.MustParseAddr("192.0.2.1"), "https", "[2001:db8::1"},
		{"reject/ipv6-bad-literal", netip.MustParseAddr("192.0.2.1"), "https", "[x;y]"},
		{"reject/ipv6-zone", netip.MustParseAddr("192.0.2.1"), "https", "[fe80::1%eth0]"},
		{"reject/ipv6-trailing", netip.MustParseAddr("192.0.2.1"), "https", "[2001:db8::1]x"},
		{"reject/ipv4-in-brackets", netip.MustParseAddr("192.0.2.1"), "https", "[192.0.2.1]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{"Accept": {"*/*"}}
			err := SetForwarded(h, c.client, c.proto, c.host)
			if !errors.Is(err, errHeaderValue) {
				t.Fatalf("err = %v, want errHeaderValue", err)
			}
			if !strings.HasPrefix(err.Error(), "gateway: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			if len(h) != 1 {
				t.Fatalf("header changed on refusal: %q", h)
			}
		})
	}
}

func TestSetIdentity(t *testing.T) {
	const jws = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln"
	h := http.Header{"X-Rampart-Client": {"stale"}}
	if err := SetIdentity(h, "user-1", "cli", []string{"notes:read", "notes:write"}, jws); err != nil {
		t.Fatal(err)
	}
	want := http.Header{
		"X-Rampart-Subject":   {"user-1"},
		"X-Rampart-Client":    {"cli"},
		"X-Rampart-Scopes":    {"notes:read notes:write"},
		"X-Rampart-Assertion": {jws},
	}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("got %q, want %q", h, want)
	}
	// An auth: none route: only the assertion; stale values removed.
	if err := SetIdentity(h, "", "", nil, jws); err != nil {
		t.Fatal(err)
	}
	if want := (http.Header{"X-Rampart-Assertion": {jws}}); !reflect.DeepEqual(h, want) {
		t.Fatalf("auth none: got %q, want %q", h, want)
	}
}

func TestSetIdentityRefuses(t *testing.T) {
	const jws = "a.b.c"
	cases := []struct {
		name, subject, client string
		scopes                []string
		assertion             string
	}{
		{"reject/subject-crlf", "u\r\nX-Rampart-Subject: admin", "c", nil, jws},
		{"reject/subject-lf", "u\nx", "c", nil, jws},
		{"reject/subject-nul", "u\x00", "c", nil, jws},
		{"reject/subject-space", "u x", "c", nil, jws},
		{"reject/subject-tab", "u\tx", "c", nil, jws},
		{"reject/subject-del", "u\x7f", "c", nil, jws},
		{"reject/subject-non-ascii", "jos\xc3\xa9", "c", nil, jws},
		{"reject/client-cr", "u", "c\r", nil, jws},
		{"reject/scope-space", "u", "c", []string{"a b"}, jws},
		{"reject/scope-empty", "u", "c", []string{""}, jws},
		{"reject/scope-quote", "u", "c", []string{`a"`}, jws},
		{"reject/scope-backslash", "u", "c", []string{`a\`}, jws},
		{"reject/scope-crlf", "u", "c", []string{"a\r\nb"}, jws},
		{"reject/assertion-empty", "u", "c", nil, ""},
		{"reject/assertion-two-parts", "u", "c", nil, "a.b"},
		{"reject/assertion-four-parts", "u", "c", nil, "a.b.c.d"},
		{"reject/assertion-empty-part", "u", "c", nil, "a..c"},
		{"reject/assertion-empty-signature", "u", "c", nil, "a.b."},
		{"reject/assertion-padding", "u", "c", nil, "a=.b.c"},
		{"reject/assertion-crlf", "u", "c", nil, "a.b.c\r\nX: y"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			if err := SetIdentity(h, c.subject, c.client, c.scopes, c.assertion); !errors.Is(err, errHeaderValue) {
				t.Fatalf("err = %v, want errHeaderValue", err)
			}
			if len(h) != 0 {
				t.Fatalf("header changed on refusal: %q", h)
			}
		})
	}
}

// browserHeaders is a typical browser request's header set: nothing in it
// is the gateway's to remove.
func browserHeaders() http.Header {
	return http.Header{
		"Accept":                    {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
		"Accept-Encoding":           {"gzip, deflate, br, zstd"},
		"Accept-Language":           {"en-US,en;q=0.5"},
		"Authorization":             {"Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln"},
		"Cache-Control":             {"no-cache"},
		"Connection":                {"keep-alive"},
		"Cookie":                    {"session=abc; theme=dark"},
		"Referer":                   {"https://app.example.test/notes"},
		"Sec-Fetch-Dest":            {"document"},
		"Sec-Fetch-Mode":            {"navigate"},
		"Sec-Fetch-Site":            {"same-origin"},
		"Upgrade-Insecure-Requests": {"1"},
		"User-Agent":                {"Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"},
	}
}

// rawRequest writes a GET request with the given header lines verbatim on
// a TCP connection to addr, so odd spellings reach Go's server exactly as
// sent, and returns the response status.
func rawRequest(t *testing.T, addr string, lines []string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "GET /api/notes HTTP/1.1\r\nHost: %s\r\n", addr)
	for _, l := range lines {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := conn.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode
}

// hostileLines is every corpus line plus a Connection header naming the
// gateway's own headers and legitimate headers that must pass through.
func hostileLines(t *testing.T) []string {
	var lines []string
	for _, c := range readCorpus(t) {
		lines = append(lines, c.line)
	}
	return append(lines,
		"Connection: X-Rampart-Subject, x_rampart_scopes, X-Forwarded-For, close",
		"Accept: application/json",
		"Content-Type: application/json",
		"X-Request-Id: req-42",
	)
}

func TestRawHeadersReachServerAndAreStripped(t *testing.T) {
	type seen struct{ before, after http.Header }
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		before := r.Header.Clone()
		StripInbound(r.Header, false)
		got <- seen{before, r.Header.Clone()}
	}))
	defer srv.Close()

	if code := rawRequest(t, srv.Listener.Addr().String(), hostileLines(t)); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	s := <-got
	for _, c := range readCorpus(t) {
		if _, ok := s.before[textproto.CanonicalMIMEHeaderKey(c.name)]; !ok {
			t.Errorf("%s: %q did not reach the server as sent", c.ref, c.name)
		}
	}
	for k := range s.after {
		if refForbidden(refNorm(k), false) {
			t.Errorf("%q survived StripInbound", k)
		}
	}
	if c := s.after["Connection"]; len(c) != 1 || c[0] != "close" {
		t.Errorf("Connection = %q, want [close]", c)
	}
	for _, k := range []string{"Accept", "Content-Type", "X-Request-Id"} {
		if !reflect.DeepEqual(s.after[k], s.before[k]) || len(s.after[k]) != 1 {
			t.Errorf("%s changed: %q -> %q", k, s.before[k], s.after[k])
		}
	}
}

// testAssertion stands in for the signed assertion (built elsewhere).
const testAssertion = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2ln"

// gatewayProxy is a gateway-shaped proxy to upstream: Rewrite (never
// Director) strips, then sets the gateway's headers, after the hop-by-hop
// removal httputil.ReverseProxy performs before calling Rewrite. With
// filter false it only sets them, the control that shows the spoofs do
// arrive without StripInbound.
func gatewayProxy(t *testing.T, upstream string, filter bool) *httptest.Server {
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		if filter {
			StripInbound(pr.Out.Header, false)
		}
		client := netip.MustParseAddrPort(pr.In.RemoteAddr).Addr()
		if err := SetForwarded(pr.Out.Header, client, "http", pr.In.Host); err != nil {
			t.Error(err)
		}
		if err := SetIdentity(pr.Out.Header, "user-1", "cli", []string{"notes:read"}, testAssertion); err != nil {
			t.Error(err)
		}
		pr.SetURL(target)
	}}
	return httptest.NewServer(rp)
}

func TestSpoofedHeadersNeverReachUpstream(t *testing.T) {
	got := make(chan http.Header, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
	}))
	defer up.Close()
	gw := gatewayProxy(t, up.URL, true)
	defer gw.Close()
	gwHost := gw.Listener.Addr().String()

	check := func(t *testing.T, h http.Header) {
		t.Helper()
		want := map[string]string{
			"X-Forwarded-For":     "127.0.0.1",
			"X-Forwarded-Proto":   "http",
			"X-Forwarded-Host":    gwHost,
			"Forwarded":           "for=127.0.0.1;proto=http;host=\"" + gwHost + "\"",
			"X-Rampart-Subject":   "user-1",
			"X-Rampart-Client":    "cli",
			"X-Rampart-Scopes":    "notes:read",
			"X-Rampart-Assertion": testAssertion,
		}
		for k, v := range h {
			if !refForbidden(refNorm(k), false) {
				continue
			}
			if w, ok := want[k]; !ok || len(v) != 1 || v[0] != w {
				t.Errorf("upstream got %s: %q", k, v)
			}
		}
		for k, w := range want {
			if v := h[k]; len(v) != 1 || v[0] != w {
				t.Errorf("upstream %s = %q, want %q", k, v, w)
			}
		}
	}

	t.Run("raw-tcp-client", func(t *testing.T) {
		if code := rawRequest(t, gwHost, hostileLines(t)); code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
		h := <-got
		check(t, h)
		for k, w := range map[string]string{"Accept": "application/json", "Content-Type": "application/json", "X-Request-Id": "req-42"} {
			if v := h[k]; len(v) != 1 || v[0] != w {
				t.Errorf("legitimate %s = %q, want %q", k, v, w)
			}
		}
	})
	t.Run("net-http-client-noncanonical-keys", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, gw.URL+"/api/notes", nil)
		if err != nil {
			t.Fatal(err)
		}
		// Keys set directly in the map are written as is by the client.
		for _, k := range []string{"x_rampart_subject", "X_FORWARDED_FOR", "x-real-ip", "X.Forwarded.Host", "true_client_ip", "x-original-url"} {
			req.Header[k] = []string{"spoof"}
		}
		req.Header["Connection"] = []string{"X-Rampart-Subject"}
		resp, err := gw.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		check(t, <-got)
	})
}

func TestSpoofedHeadersArriveWithoutFilter(t *testing.T) {
	// The control: the harness does deliver the spellings, so the test
	// above passes because of StripInbound, not because of the harness.
	got := make(chan http.Header, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
	}))
	defer up.Close()
	gw := gatewayProxy(t, up.URL, false)
	defer gw.Close()
	if code := rawRequest(t, gw.Listener.Addr().String(), []string{"X_Forwarded_For: 10.0.0.1", "X_Rampart_Subject: admin", "X-Original-URL: /admin"}); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	h := <-got
	for _, k := range []string{"X_forwarded_for", "X_rampart_subject", "X-Original-Url"} {
		if _, ok := h[k]; !ok {
			t.Errorf("control: %s did not reach the upstream without the filter (got %q)", k, h)
		}
	}
}
