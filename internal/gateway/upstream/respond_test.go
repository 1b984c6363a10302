package upstream

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/httpx"
)

const fakeStack = "panic: runtime error: invalid memory address or nil pointer dereference\n" +
	"goroutine 42 [running]:\nmain.(*store).load(0x0)\n\t/srv/notes/internal/db/store.go:117 +0x1d\n" +
	"pq: password authentication failed for user \"notes_admin\" at 10.0.3.7:5432\n"

// leakyUpstream answers status with a stack trace and every identifying
// header a framework might add.
func leakyUpstream(t *testing.T, status int) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Server", "gunicorn/20.1.0")
		h.Set("X-Powered-By", "Express")
		h.Set("X-AspNet-Version", "4.0.30319")
		h.Set("X-AspNetMvc-Version", "5.2")
		h.Set("X-Runtime", "0.012")
		h.Set("X-Debug-Token", "a1b2c3")
		h.Set("X-Debug-Token-Link", "http://10.0.3.7/_profiler/a1b2c3")
		h.Set("Via", "1.1 varnish (Varnish/6.0)")
		h.Set("Content-Type", "text/html")
		h.Set("Content-Encoding", "identity")
		h.Set("ETag", `"v1"`)
		h.Set("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")
		h.Set("Content-Security-Policy", "default-src *")
		h.Set("X-Frame-Options", "ALLOWALL")
		h.Set("Retry-After", "5")
		h.Set("X-Request-Cost", "7")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, fakeStack)
	}))
	t.Cleanup(srv.Close)
	return srv
}

var identifying = []string{"Server", "X-Powered-By", "X-Aspnet-Version", "X-Aspnetmvc-Version", "X-Runtime",
	"X-Debug-Token", "X-Debug-Token-Link", "Via"}

func TestFiveHundredsReplaced(t *testing.T) {
	for _, status := range []int{500, 501, 502, 503, 504, 507, 599} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			up := leakyUpstream(t, status)
			p := mustPool(t, Options{Route: "r", URLs: []string{up.URL}, Ejection: Ejection{Consecutive: -1}})
			r := get(t, gatewayFor(t, p, DefaultSecurityHeaders(false)).URL+"/boom", "")
			assertProblem(t, r, status, "panic", "goroutine", "store.go", "10.0.3.7", "notes_admin", "pq:")
			var pb struct {
				Title, Detail string
				Status        int
			}
			if err := json.Unmarshal([]byte(r.body), &pb); err != nil {
				t.Fatal(err)
			}
			if pb.Status != status || pb.Title != http.StatusText(status) || pb.Detail != detailUpstreamFailed {
				t.Errorf("problem %+v", pb)
			}
			if cl := r.header.Get("Content-Length"); cl != strconv.Itoa(len(r.body)) {
				t.Errorf("Content-Length %q for %d bytes", cl, len(r.body))
			}
			for _, k := range append(identifying, "Content-Encoding", "Etag", "Last-Modified") {
				if v := r.header.Values(k); len(v) > 0 {
					t.Errorf("%s passed through: %q", k, v)
				}
			}
			if r.header.Get("Retry-After") != "5" || r.header.Get("X-Request-Cost") != "7" {
				t.Error("unrelated headers were dropped")
			}
			if r.header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("X-Frame-Options %q", r.header.Values("X-Frame-Options"))
			}
		})
	}
}

func TestSuccessBodyAndHeaders(t *testing.T) {
	up := leakyUpstream(t, http.StatusOK)
	p := mustPool(t, Options{Route: "r", URLs: []string{up.URL}})
	r := get(t, gatewayFor(t, p, DefaultSecurityHeaders(false)).URL+"/", "")
	if r.status != 200 || r.body != fakeStack {
		t.Fatalf("a 2xx body must pass untouched: %d %q", r.status, r.body)
	}
	for _, k := range identifying {
		if v := r.header.Values(k); len(v) > 0 {
			t.Errorf("%s passed through: %q", k, v)
		}
	}
	want := map[string]string{
		"X-Content-Type-Options":       "nosniff",
		"Referrer-Policy":              "no-referrer",
		"X-Frame-Options":              "DENY",
		"Content-Security-Policy":      httpx.DefaultCSP,
		"Cross-Origin-Resource-Policy": "same-origin",
		"Content-Type":                 "text/html",
		"Etag":                         `"v1"`,
	}
	for k, v := range want {
		if got := r.header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want exactly %q", k, got, v)
		}
	}
	if r.header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS on a plain-HTTP listener (RFC 6797 §7.2)")
	}
}

func TestSecurityHeaderOverrides(t *testing.T) {
	up := leakyUpstream(t, http.StatusOK)
	p := mustPool(t, Options{Route: "r", URLs: []string{up.URL}})
	sec := DefaultSecurityHeaders(true).With(SecurityHeaders{
		"content-security-policy": "",           // the upstream sets its own
		"X-FRAME-OPTIONS":         "SAMEORIGIN", // replaced
		"Permissions-Policy":      "camera=()",  // added
	})
	r := get(t, gatewayFor(t, p, sec).URL+"/", "")
	want := map[string]string{
		"Content-Security-Policy":   "default-src *",
		"X-Frame-Options":           "SAMEORIGIN",
		"Permissions-Policy":        "camera=()",
		"Strict-Transport-Security": httpx.HSTS,
		"X-Content-Type-Options":    "nosniff",
	}
	for k, v := range want {
		if got := r.header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want exactly %q", k, got, v)
		}
	}
	if d := DefaultSecurityHeaders(true); d["Content-Security-Policy"] != httpx.DefaultCSP {
		t.Error("With changed the defaults it was called on")
	}
}

func TestSecurityHeadersValidate(t *testing.T) {
	cases := []struct {
		name string
		s    SecurityHeaders
		want string
	}{
		{"reject/name-space", SecurityHeaders{"X Bad": "1"}, "token"},
		{"reject/name-empty", SecurityHeaders{"": "1"}, "token"},
		{"reject/name-colon", SecurityHeaders{"X-A:": "1"}, "token"},
		{"reject/value-crlf", SecurityHeaders{"X-A": "1\r\nSet-Cookie: s=1"}, "visible ASCII"},
		{"reject/value-nul", SecurityHeaders{"X-A": "a\x00b"}, "visible ASCII"},
		{"reject/value-utf8", SecurityHeaders{"X-A": "é"}, "visible ASCII"},
		{"reject/framing", SecurityHeaders{"content-length": "0"}, "framing"},
		{"reject/te", SecurityHeaders{"Transfer-Encoding": "chunked"}, "framing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.s.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
			// ModifyResponse leaves invalid entries out rather than send them.
			resp := &http.Response{StatusCode: 200, Header: http.Header{}}
			_ = ModifyResponse(c.s)(resp)
			if len(resp.Header) != 0 {
				t.Errorf("invalid entries sent: %q", resp.Header)
			}
		})
	}
	if err := DefaultSecurityHeaders(true).Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
}

func TestStripIdentifyingAnySpelling(t *testing.T) {
	h := http.Header{"x-debug-trace": {"1"}, "X-DEBUG-X": {"1"}, "Server": {"a"}, "X-Debugger": {"keep"}}
	stripIdentifying(h)
	if len(h) != 1 || h.Get("X-Debugger") != "keep" {
		t.Fatalf("left %v", h)
	}
}

func TestModifyResponseOddInputs(t *testing.T) {
	mr := ModifyResponse(DefaultSecurityHeaders(false))
	if err := mr(nil); err != nil {
		t.Fatal(err)
	}
	for _, resp := range []*http.Response{
		{StatusCode: 500},                           // no header, no body, no request
		{StatusCode: 200, Header: http.Header{}},    // no body
		{StatusCode: 42, Header: http.Header{}},     // not HTTP
		{StatusCode: 999, Body: http.NoBody},        // not HTTP either
		{StatusCode: 503, Request: &http.Request{}}, // request with no context value
	} {
		if err := mr(resp); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode < 100 || resp.StatusCode > 599 {
			t.Errorf("status %d left as is", resp.StatusCode)
		}
	}
	head := &http.Response{StatusCode: 500, Header: http.Header{}, Request: httptest.NewRequest(http.MethodHead, "/", nil),
		Body: io.NopCloser(strings.NewReader(fakeStack))}
	_ = mr(head)
	if b, _ := io.ReadAll(head.Body); len(b) != 0 {
		t.Errorf("HEAD answer has a body %q", b)
	}
}

// TestHostileUpstreams: upstreams that answer huge headers, garbage,
// half a response, an impossible status or an endless 5xx body. The
// gateway answers a problem (or passes a truncated 2xx as the broken
// stream it is), leaks nothing and keeps serving.
func TestHostileUpstreams(t *testing.T) {
	huge := "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", maxResponseHeaderBytes+1024) + "\r\n\r\n"
	many := "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-A: b\r\n", 40000) + "\r\n"
	cases := []struct {
		name   string
		answer string
		status int // 0: any (the client may see a broken stream)
	}{
		{"huge-header", huge, 502},
		{"many-headers", many, 502},
		{"garbage", "\x00\xff\xfeNOT HTTP AT ALL\r\n\r\n", 502},
		{"bad-status-line", "HTTP/1.1 OK\r\n\r\n", 502},
		{"status-600", "HTTP/1.1 600 Weird\r\nContent-Length: 5\r\n\r\npanic", 502},
		{"truncated-headers", "HTTP/1.1 200 OK\r\nContent-Le", 502},
		{"bad-header-line", "HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n", 502},
		{"nul-in-header", "HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n", 502},
		{"bad-chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0},
		{"short-body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", 0},
		{"double-length", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 502},
		{"5xx-endless-body", "HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat("5\r\npanic\r\n", 20000), 500},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			addr := rawUpstream(t, c.answer)
			p := mustPool(t, Options{Route: "r", URLs: []string{"http://" + addr}, Ejection: Ejection{Consecutive: -1}})
			gw := gatewayFor(t, p, DefaultSecurityHeaders(false))
			for range 2 { // the gateway still serves after the first
				r, err := tryGet(gw.URL + "/")
				if c.status == 0 {
					continue
				}
				if err != nil {
					t.Fatalf("client error %v", err)
				}
				assertProblem(t, r, c.status, "panic", "127.0.0.1", "malformed", "Weird")
			}
		})
	}
}

func tryGet(url string) (result, error) {
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{resp.StatusCode, string(b), resp.Header}, err
}

// rawUpstream accepts connections on 127.0.0.1, reads one request head
// and writes answer verbatim, then closes, until the test ends.
func rawUpstream(t *testing.T, answer string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(conn)
				for {
					line, err := br.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				_, _ = io.WriteString(conn, answer)
			}()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return ln.Addr().String()
}

func TestErrorHandlerRefusedAndEjects(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	live := newBackend(t, "live")
	p := mustPool(t, Options{Route: "r", URLs: []string{"http://" + addr, live.srv.URL}, Ejection: Ejection{Consecutive: 2}})
	gw := gatewayFor(t, p, DefaultSecurityHeaders(false))
	refused := 0
	for range 10 {
		r := get(t, gw.URL+"/", "")
		if r.status == http.StatusBadGateway {
			refused++
			assertProblem(t, r, http.StatusBadGateway, addr, "dial", "refused", "tcp")
			if r.header.Get("X-Frame-Options") != "DENY" {
				t.Error("security headers missing on the gateway's own 502")
			}
		}
	}
	if refused != 2 || p.Status()[0].Ejections != 1 {
		t.Errorf("%d refused answers, %d ejections: want 2 then ejection", refused, p.Status()[0].Ejections)
	}
}

func TestErrorHandlerTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	p := mustPool(t, Options{Route: "r", URLs: []string{slow.URL}, ResponseHeaderTimeout: 50 * time.Millisecond})
	r := get(t, gatewayFor(t, p, nil).URL+"/", "")
	assertProblem(t, r, http.StatusGatewayTimeout, "timeout awaiting", "127.0.0.1")
	if !strings.Contains(r.body, detailUpstreamTimeout) {
		t.Errorf("body %q", r.body)
	}
}

func TestErrorHandlerNilPoolAndTarget(t *testing.T) {
	w := httptest.NewRecorder()
	ErrorHandler(nil, nil)(w, httptest.NewRequest(http.MethodGet, "/", nil), io.ErrUnexpectedEOF)
	if w.Code != http.StatusBadGateway || strings.Contains(w.Body.String(), "EOF") {
		t.Fatalf("%d %q", w.Code, w.Body)
	}
}

func TestWriteProblem(t *testing.T) {
	w := httptest.NewRecorder()
	WriteProblem(w, http.StatusServiceUnavailable, "no upstream is available")
	if w.Code != 503 || w.Header().Get("Content-Type") != httpx.ContentTypeProblem ||
		!strings.Contains(w.Body.String(), `"detail":"no upstream is available"`) {
		t.Fatalf("%d %v %q", w.Code, w.Header(), w.Body)
	}
}
