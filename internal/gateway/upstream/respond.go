package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"

	"github.com/rampart-auth/rampart/internal/httpx"
)

// Details of the gateway's own problem answers. They say what failed,
// never why: the upstream's text, the Go error and the upstream's address
// stay in the logs (OWASP Error Handling Cheat Sheet; RFC 9457 §5).
const (
	detailUpstreamFailed  = "the upstream failed"
	detailUpstreamTimeout = "the upstream did not answer in time"
)

// bodyHeaders describe the body a replaced 5xx no longer has.
var bodyHeaders = []string{
	"Accept-Ranges", "Content-Disposition", "Content-Digest", "Content-Encoding", "Content-Language",
	"Content-Length", "Content-Location", "Content-Md5", "Content-Range", "Content-Type", "Digest",
	"Etag", "Expires", "Last-Modified", "Repr-Digest", "Trailer", "Transfer-Encoding",
}

// ModifyResponse returns an httputil.ReverseProxy.ModifyResponse hook
// that hardens every upstream response before the client sees it:
//
//  1. identifying headers (Server, X-Powered-By, X-AspNet-Version,
//     X-AspNetMvc-Version, X-Runtime, X-Debug-*, Via, ...) are removed;
//  2. sec (invalid entries left out: check it with Validate at load) is
//     set, replacing the upstream's value: the gateway's value wins, and a
//     route that must let a service send its own (a page with a nonce
//     CSP) overrides that header with "" (SecurityHeaders.With);
//  3. a 5xx body is replaced by a problem+json one (the status kept, title
//     its phrase, detail "the upstream failed") with Content-Length and
//     Content-Type fixed and the old body's headers (Content-Encoding,
//     ETag, ...) and trailers dropped, so stack traces, SQL and internal
//     names never pass through (OWASP Error Handling Cheat Sheet). A
//     status outside 100–599 (RFC 9110 §15) becomes 502 the same way;
//  4. the outcome is reported to the target's pool (Pool.Observe), when
//     the request carries one (WithTarget).
//
// The proxy must not also add security headers to the ResponseWriter
// (httpx.SecurityHeaders): ReverseProxy adds the upstream's headers to
// those already set, so each would appear twice. It never returns an
// error.
func ModifyResponse(sec SecurityHeaders) func(*http.Response) error {
	hs := compileHeaders(sec)
	return func(resp *http.Response) error {
		if resp == nil {
			return nil
		}
		if resp.Header == nil {
			resp.Header = http.Header{}
		}
		stripIdentifying(resp.Header)
		hs.apply(resp.Header)
		if resp.StatusCode < 100 || resp.StatusCode > 599 {
			resp.StatusCode, resp.Status = http.StatusBadGateway, ""
		}
		if resp.StatusCode >= 500 {
			replaceBody(resp)
		}
		if resp.Request != nil {
			if t := TargetFrom(resp.Request.Context()); t != nil {
				t.pool.Observe(t, resp.StatusCode, nil)
			}
		}
		return nil
	}
}

// replaceBody swaps resp's body for a problem. The upstream body is
// closed unread: draining it would let a slow upstream hold the
// goroutine, and the connection is not worth that.
func replaceBody(resp *http.Response) {
	if resp.Body != nil {
		_ = resp.Body.Close()
	}
	var rid string
	if resp.Request != nil {
		rid = httpx.RequestIDFrom(resp.Request.Context())
	}
	body := problemJSON(resp.StatusCode, detailUpstreamFailed, rid)
	h := resp.Header
	for _, k := range bodyHeaders {
		delete(h, k)
	}
	h["Content-Type"] = []string{httpx.ContentTypeProblem}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	h["Cache-Control"] = []string{"no-store"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	resp.Status = strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)
	resp.ContentLength = int64(len(body))
	resp.TransferEncoding, resp.Trailer, resp.Uncompressed = nil, nil, false
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if resp.Request != nil && resp.Request.Method == http.MethodHead {
		resp.Body = http.NoBody
	}
}

// problem is the RFC 9457 body, as httpx writes it.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

func problemJSON(status int, detail, rid string) []byte {
	b, err := json.Marshal(problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, RequestID: rid})
	if err != nil { // strings and an int: cannot happen
		b = []byte(`{"type":"about:blank","title":"Bad Gateway","status":502}`)
	}
	return append(b, '\n')
}

// WriteProblem answers an RFC 9457 problem+json with status and detail
// (which must be safe for the client to read); the gateway uses it for
// its own 502, 503 and 504. It is httpx.WriteProblem without a request.
func WriteProblem(w http.ResponseWriter, status int, detail string) {
	httpx.WriteProblem(w, nil, status, "", detail)
}

// ErrorHandler returns an httputil.ReverseProxy.ErrorHandler for p's
// route: 504 when the upstream timed out (the dial, the TLS handshake or
// ResponseHeaderTimeout, or the request's deadline), 502 for every other
// transport error, as problem+json with sec set and never the Go error's
// text (it names addresses, certificates and internals: logged instead).
// It reports the failure to p (Pool.Observe). A request the client
// abandoned is logged at info level and not counted against the upstream.
func ErrorHandler(p *Pool, sec SecurityHeaders) func(http.ResponseWriter, *http.Request, error) {
	hs := compileHeaders(sec)
	logger, route := slog.Default(), ""
	if p != nil {
		logger, route = p.logger, p.route
	}
	return func(w http.ResponseWriter, r *http.Request, err error) {
		status, detail := http.StatusBadGateway, detailUpstreamFailed
		if isTimeout(err) {
			status, detail = http.StatusGatewayTimeout, detailUpstreamTimeout
		}
		t := TargetFrom(r.Context())
		level, upstream := slog.LevelWarn, ""
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			level = slog.LevelInfo
		}
		if t != nil {
			upstream = t.URL.String()
			if p != nil {
				p.Observe(t, 0, err)
			}
		}
		logger.LogAttrs(r.Context(), level, "upstream: request failed",
			slog.String("route", route), slog.String("upstream", upstream),
			slog.Int("status", status), slog.String("error", errText(err)))
		hs.apply(w.Header())
		httpx.WriteProblem(w, r, status, "", detail)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
