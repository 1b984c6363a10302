package upstream

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// SecurityHeaders are the headers the gateway sets on every answer of a
// route (name → value).
type SecurityHeaders map[string]string

// DefaultSecurityHeaders are an API's defaults (OWASP HTTP Headers and
// REST Security cheat sheets): no MIME sniffing, no framing, no referrer,
// a CSP that allows nothing (an API answer is data, never a page), same-
// origin resource policy, and HSTS when the gateway serves TLS (RFC 6797;
// meaningless, and ignored by browsers, over plain HTTP). Routes that serve
// pages override them (`security_headers`).
func DefaultSecurityHeaders(tls bool) SecurityHeaders {
	h := SecurityHeaders{
		"X-Content-Type-Options":       "nosniff",
		"X-Frame-Options":              "DENY",
		"Referrer-Policy":              "no-referrer",
		"Content-Security-Policy":      "default-src 'none'; frame-ancestors 'none'",
		"Cross-Origin-Resource-Policy": "same-origin",
	}
	if tls {
		h["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
	}
	return h
}

// leakyHeaders name the software and version of an upstream (or its debug
// tooling): the gateway never passes them on.
var leakyHeaders = []string{"Server", "X-Powered-By", "X-Aspnet-Version", "X-Aspnetmvc-Version", "X-Runtime",
	"X-Generator", "X-Backend-Server", "X-Served-By", "X-Debug-Token", "X-Debug-Token-Link", "X-Sourcemap", "Sourcemap"}

// ModifyResponse hardens an upstream's answer (httputil.ReverseProxy's
// ModifyResponse): the headers that name the upstream's software go, the
// route's security headers are set (the gateway's value wins over the
// upstream's: the route's overrides are the one place to change them),
// and the body of every 5xx is replaced by a problem+json that says only
// the status, so stack traces, SQL errors and internal addresses never
// reach a client (OWASP Error Handling Cheat Sheet).
func ModifyResponse(sec SecurityHeaders) func(*http.Response) error {
	return func(resp *http.Response) error {
		h := resp.Header
		for _, k := range leakyHeaders {
			h.Del(k)
		}
		for k := range h {
			if strings.HasPrefix(k, "X-Debug-") {
				delete(h, k)
			}
		}
		for k, v := range sec {
			h.Set(k, v)
		}
		if resp.StatusCode >= 500 {
			replaceBody(resp)
		}
		return nil
	}
}

// replaceBody swaps a 5xx answer's body for a problem document.
func replaceBody(resp *http.Response) {
	if resp.Body != nil {
		_ = resp.Body.Close()
	}
	body := problemBody(resp.StatusCode, "The upstream failed to handle the request.")
	h := resp.Header
	for _, k := range []string{"Content-Encoding", "Content-Range", "Etag", "Last-Modified", "Content-Disposition", "Content-Language", "Trailer"} {
		h.Del(k)
	}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	resp.ContentLength = int64(len(body))
	resp.TransferEncoding = nil
	resp.Trailer = nil
	resp.Uncompressed = false
	resp.Body = io.NopCloser(bytes.NewReader(body))
}

func problemBody(status int, detail string) []byte {
	b, err := json.Marshal(struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}{"about:blank", http.StatusText(status), status, detail})
	if err != nil {
		return []byte(`{"type":"about:blank","status":502}`)
	}
	return b
}
