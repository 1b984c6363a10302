package httpx

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// problemBody is a decoded problem response.
type problemBody struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	RequestID string `json:"request_id"`
}

func do(t *testing.T, c *http.Client, method, url string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestSecurityHeadersOnEveryResponse covers success, mux 404/405, handler
// errors, panics and body-limit rejections.
func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	_, _, h := newTestApp(t, false, 1024)
	ts := startServer(t, ServerOptions{Handler: h})
	cases := []struct {
		name, method, path string
		body               io.Reader
		status             int
	}{
		{"ok", http.MethodGet, "/ok", nil, 200},
		{"not-found", http.MethodGet, "/nope", nil, 404},
		{"method-not-allowed", http.MethodDelete, "/ok", nil, 405},
		{"handler-error", http.MethodGet, "/conflict", nil, 409},
		{"internal-error", http.MethodGet, "/internal", nil, 500},
		{"panic", http.MethodGet, "/panic", nil, 500},
		{"body-too-large", http.MethodPost, "/echo", strings.NewReader(strings.Repeat("x", 2048)), 413},
		{"metrics", http.MethodGet, "/metrics", nil, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := do(t, http.DefaultClient, tc.method, ts.URL+tc.path, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			want := map[string]string{
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
				"X-Frame-Options":         "DENY",
				"Content-Security-Policy": DefaultCSP,
			}
			for k, v := range want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if got := resp.Header.Get("Strict-Transport-Security"); got != "" {
				t.Errorf("HSTS over plain HTTP: %q", got)
			}
			if len(resp.Header.Get(HeaderRequestID)) != 32 {
				t.Errorf("X-Request-Id = %q", resp.Header.Get(HeaderRequestID))
			}
			if tc.status >= 400 {
				if ct := resp.Header.Get("Content-Type"); ct != ContentTypeProblem {
					t.Errorf("Content-Type = %q", ct)
				}
				if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control = %q", cc)
				}
			}
		})
	}
}

func TestPanicAnswersProblemWithoutDetail(t *testing.T) {
	logs, _, h := newTestApp(t, false, 1024)
	ts := startServer(t, ServerOptions{Handler: h})
	resp, body := do(t, http.DefaultClient, http.MethodGet, ts.URL+"/panic", nil)
	if resp.StatusCode != 500 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, leak := range []string{panicSecret, "goroutine", ".go:", "panic"} {
		if strings.Contains(body, leak) {
			t.Errorf("body leaks %q: %s", leak, body)
		}
	}
	if resp.Header.Get("Set-Cookie") != "" {
		t.Error("cookie set by the failed handler was sent")
	}
	var p problemBody
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	rid := resp.Header.Get(HeaderRequestID)
	if p.Type != "about:blank" || p.Status != 500 || p.Title != "Internal Server Error" || p.Detail != "" || p.RequestID != rid {
		t.Errorf("problem = %+v", p)
	}
	lines := logs.find(t, "panic serving request")
	if len(lines) != 1 {
		t.Fatalf("%d panic log lines", len(lines))
	}
	l := lines[0]
	if l["level"] != "ERROR" || l["panic"] != panicSecret || l["request_id"] != rid ||
		!strings.Contains(l["stack"].(string), "goroutine") {
		t.Errorf("panic log line = %v", l)
	}
	acc := logs.find(t, "http request")
	if len(acc) != 1 || acc[0]["status"] != float64(500) {
		t.Errorf("access log = %v", acc)
	}
}

func TestPanicAfterWriteAbortsConnection(t *testing.T) {
	logs, _, h := newTestApp(t, false, 1024)
	ts := startServer(t, ServerOptions{Handler: h})
	resp, err := http.Get(ts.URL + "/panic-late")
	if err != nil {
		t.Fatal(err) // the flushed header must have arrived
	}
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Error("a response cut by a panic read as complete")
	}
	if len(logs.find(t, "panic serving request")) != 1 {
		t.Error("panic not logged")
	}
}

func TestErrAbortHandlerIsNotLoggedAsPanic(t *testing.T) {
	logs, _, h := newTestApp(t, false, 1024)
	ts := startServer(t, ServerOptions{Handler: h})
	if _, err := http.Get(ts.URL + "/abort"); err == nil {
		t.Error("aborted response arrived")
	}
	if n := len(logs.find(t, "panic serving request")); n != 0 {
		t.Errorf("ErrAbortHandler logged as panic %d times", n)
	}
}

func TestRequestIDAndAccessLog(t *testing.T) {
	logs, _, h := newTestApp(t, false, 1024)
	ts := startServer(t, ServerOptions{Handler: h})
	cases := []struct {
		name       string
		clientID   string
		wantLogged string
	}{
		{"client-id/valid-uuid", "0b7c6f1e-1d2a-4a3b-9c8d-7e6f5a4b3c2d", "0b7c6f1e-1d2a-4a3b-9c8d-7e6f5a4b3c2d"},
		{"client-id/injection-dropped", `x","level":"ERROR`, ""},
		{"client-id/too-long-dropped", strings.Repeat("a", 65), ""},
		{"client-id/absent", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(logs.lines(t))
			req, _ := http.NewRequest(http.MethodGet, ts.URL+"/items/42?code=AUTHCODE-SECRET&access_token=AT-SECRET", nil)
			if tc.clientID != "" {
				req.Header.Set(HeaderRequestID, tc.clientID)
			}
			req.Header.Set("Authorization", "Bearer HEADER-SECRET")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			rid := resp.Header.Get(HeaderRequestID)
			if rid == tc.clientID || len(rid) != 32 {
				t.Fatalf("X-Request-Id = %q (client sent %q)", rid, tc.clientID)
			}
			lines := logs.lines(t)[before:]
			if len(lines) != 2 {
				t.Fatalf("%d new log lines: %v", len(lines), lines)
			}
			for _, l := range lines {
				if l["request_id"] != rid {
					t.Errorf("line without our request id: %v", l)
				}
			}
			hl, acc := lines[0], lines[1]
			if hl["msg"] != "handler line" || hl["token"] != Redacted {
				t.Errorf("handler line = %v", hl)
			}
			if acc["msg"] != "http request" || acc["route"] != "GET /items/{id}" || acc["status"] != float64(200) ||
				acc["method"] != "GET" || acc["client_ip"] != "127.0.0.1" || acc["bytes"] != float64(2) {
				t.Errorf("access line = %v", acc)
			}
			if got, _ := acc["client_request_id"].(string); got != tc.wantLogged {
				t.Errorf("client_request_id = %q, want %q", got, tc.wantLogged)
			}
			all := logs.String()
			for _, s := range []string{"AUTHCODE-SECRET", "AT-SECRET", "HEADER-SECRET", "tok-SECRET-123", "/items/42"} {
				if strings.Contains(all, s) {
					t.Errorf("log contains %q", s)
				}
			}
		})
	}
}

func TestBodyLimits(t *testing.T) {
	const limit = 1024
	_, _, h := newTestApp(t, false, limit)
	ts := startServer(t, ServerOptions{Handler: h})

	t.Run("accept/at-limit", func(t *testing.T) {
		resp, body := do(t, http.DefaultClient, http.MethodPost, ts.URL+"/echo", strings.NewReader(strings.Repeat("x", limit)))
		if resp.StatusCode != 200 || len(body) != limit {
			t.Fatalf("status %d len %d", resp.StatusCode, len(body))
		}
	})
	t.Run("reject/chunked-over-limit", func(t *testing.T) {
		// An io.MultiReader hides the length: the client sends chunked.
		resp, body := do(t, http.DefaultClient, http.MethodPost, ts.URL+"/echo",
			io.MultiReader(strings.NewReader(strings.Repeat("x", limit)), strings.NewReader("y")))
		assertProblem(t, resp, body, 413)
	})
	t.Run("reject/declared-content-length", func(t *testing.T) {
		// Declare 1 GB and send nothing: the answer must come at once,
		// before any body is read.
		conn, err := net.Dial("tcp", ts.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(conn, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1000000000\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		assertProblem(t, resp, string(b), 413)
	})
}

func assertProblem(t *testing.T, resp *http.Response, body string, status int) problemBody {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != ContentTypeProblem {
		t.Fatalf("Content-Type %q", ct)
	}
	var p problemBody
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if p.Status != status || p.Type != "about:blank" || p.Title != http.StatusText(status) {
		t.Fatalf("problem %+v", p)
	}
	return p
}

func TestErrorsAreProblemsWithoutInternalDetail(t *testing.T) {
	logs, _, h := newTestApp(t, false, 1024)
	ts := startServer(t, ServerOptions{Handler: h})
	cases := []struct {
		name, method, path string
		status             int
		detail, code       string
		hidden             string // in the log, never in the body
		allow              string
	}{
		{"boundary-error", http.MethodGet, "/conflict", 409, "The client already exists.", "exists", "UNIQUE constraint", ""},
		{"plain-error", http.MethodGet, "/internal", 500, "", "", "10.1.2.3", ""},
		{"mux-404", http.MethodGet, "/nope", 404, "", "", "", ""},
		{"mux-405", http.MethodPost, "/ok", 405, "", "", "", "GET, HEAD"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, http.DefaultClient, tc.method, ts.URL+tc.path, nil)
			p := assertProblem(t, resp, body, tc.status)
			if p.Detail != tc.detail || p.Code != tc.code || p.RequestID != resp.Header.Get(HeaderRequestID) {
				t.Errorf("problem %+v", p)
			}
			if tc.hidden != "" {
				if strings.Contains(body, tc.hidden) {
					t.Errorf("body leaks %q", tc.hidden)
				}
				if !strings.Contains(logs.String(), tc.hidden) {
					t.Errorf("cause %q not logged", tc.hidden)
				}
			}
			if got := resp.Header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
		})
	}
}

func TestErrorType(t *testing.T) {
	cause := errors.New("db down")
	e := &Error{Status: 503, Code: "unavailable", Public: "Try later.", Err: cause}
	if !errors.Is(e, cause) || e.Error() != "httpx: unavailable: db down" {
		t.Errorf("Error() = %q", e.Error())
	}
	if (&Error{Code: "x", Public: "p"}).Error() != "httpx: x: p" {
		t.Error("no-cause message")
	}
}

func TestSetCSPAndNoStore(t *testing.T) {
	_, _, h := newTestApp(t, false, 1024)
	ts := startServer(t, ServerOptions{Handler: h})
	resp, _ := do(t, http.DefaultClient, http.MethodGet, ts.URL+"/page", nil)
	if got, want := resp.Header.Get("Content-Security-Policy"), "default-src 'self'; script-src 'nonce-abc'; frame-ancestors 'none'"; got != want {
		t.Errorf("CSP = %q, want %q", got, want)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Pragma") != "no-cache" {
		t.Errorf("cache headers %v", resp.Header)
	}
	cases := []struct{ name, in, want string }{
		{"keeps-own-frame-ancestors", "default-src 'self'; Frame-Ancestors 'self'", "default-src 'self'; Frame-Ancestors 'self'"},
		{"empty", "", "frame-ancestors 'none'"},
		{"trailing-semicolon", "default-src 'self';", "default-src 'self'; frame-ancestors 'none'"},
		{"header-split-attempt", "default-src 'self'\r\nSet-Cookie: x=y", "default-src 'self'  Set-Cookie: x=y; frame-ancestors 'none'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := http.Header{}
			SetCSP(headerWriter(w), tc.in)
			if got := w.Get("Content-Security-Policy"); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// headerWriter is a ResponseWriter that only has headers.
type headerWriter http.Header

func (h headerWriter) Header() http.Header       { return http.Header(h) }
func (headerWriter) Write(p []byte) (int, error) { return len(p), nil }
func (headerWriter) WriteHeader(int)             {}

func TestNoStoreWrapper(t *testing.T) {
	ts := startServer(t, ServerOptions{Handler: NoStore(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))})
	resp, _ := do(t, http.DefaultClient, http.MethodGet, ts.URL, nil)
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Pragma") != "no-cache" {
		t.Errorf("headers %v", resp.Header)
	}
}

func TestMethodNotAllowedHelper(t *testing.T) {
	ts := startServer(t, ServerOptions{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		MethodNotAllowed(w, r, http.MethodGet, http.MethodPost)
	})})
	resp, body := do(t, http.DefaultClient, http.MethodPut, ts.URL, nil)
	assertProblem(t, resp, body, 405)
	if resp.Header.Get("Allow") != "GET, POST" {
		t.Errorf("Allow %q", resp.Header.Get("Allow"))
	}
}

func TestClientIP(t *testing.T) {
	cases := []struct{ name, remote, want string }{
		{"ipv4", "192.0.2.1:1234", "192.0.2.1"},
		{"ipv6", "[2001:db8::1]:443", "2001:db8::1"},
		{"ipv4-mapped", "[::ffff:192.0.2.1]:80", "192.0.2.1"},
		{"no-port", "192.0.2.7", "192.0.2.7"},
		{"garbage", "not an address", "not an address"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{"X-Forwarded-For": {"6.6.6.6"}}}
			if got := ClientIP(r); got != tc.want {
				t.Errorf("ClientIP = %q, want %q", got, tc.want)
			}
		})
	}
}
