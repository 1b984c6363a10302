package httpx

import (
	"net/http"
	"strings"
)

// DefaultCSP is the Content-Security-Policy of every response unless a
// page handler sets its own with SetCSP. JSON APIs load nothing, so
// everything is denied: no scripts, styles, frames, plugins, base-URI
// rewrites or form posts (OWASP Content Security Policy Cheat Sheet, "Strict
// policy"; OWASP HTTP Headers Cheat Sheet). frame-ancestors 'none' forbids
// framing (clickjacking, OWASP Clickjacking Defense Cheat Sheet).
const DefaultCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// HSTS is the Strict-Transport-Security value sent over TLS: two years,
// subdomains included, the value hstspreload.org asks for (RFC 6797 §6.1;
// OWASP HTTP Strict Transport Security Cheat Sheet). "preload" is left to
// the operator: it is hard to undo and covers the whole registrable domain.
const HSTS = "max-age=63072000; includeSubDomains"

// Canonical header names, written straight into the map to skip
// canonicalisation on every request.
const (
	hCSP          = "Content-Security-Policy"
	hXCTO         = "X-Content-Type-Options"
	hReferrer     = "Referrer-Policy"
	hXFO          = "X-Frame-Options"
	hHSTS         = "Strict-Transport-Security"
	hCacheControl = "Cache-Control"
	hPragma       = "Pragma"
)

// SecurityHeaders sets, before the handler runs, the headers every response
// carries, errors and panics included (OWASP HTTP Headers Cheat Sheet):
//
//   - X-Content-Type-Options: nosniff — browsers must not guess a content
//     type, so a JSON body with user text is never run as HTML or script.
//   - Referrer-Policy: no-referrer — URLs with codes or state never leak to
//     other sites through Referer (RFC 9700 §4.2.4).
//   - Content-Security-Policy: DefaultCSP (frame-ancestors 'none' included),
//     replaceable per page with SetCSP.
//   - X-Frame-Options: DENY — framing denial for browsers that predate CSP
//     frame-ancestors (RFC 7034).
//   - Strict-Transport-Security: HSTS, only when tls is true: RFC 6797 §7.2
//     forbids sending it over plain HTTP, where it would be ignored anyway.
//
// Handlers may override any of them before writing the header.
func SecurityHeaders(tls bool) Middleware {
	n := 4
	if tls {
		n = 5
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// One backing array for all values: one allocation, not five.
			// Each header gets a full slice (len == cap), so a later Add
			// copies instead of writing into its neighbour.
			v := make([]string, n)
			v[0], v[1], v[2], v[3] = "nosniff", "no-referrer", DefaultCSP, "DENY"
			h := w.Header()
			h[hXCTO] = v[0:1:1]
			h[hReferrer] = v[1:2:2]
			h[hCSP] = v[2:3:3]
			h[hXFO] = v[3:4:4]
			if tls {
				v[4] = HSTS
				h[hHSTS] = v[4:5:5]
			}
			next.ServeHTTP(w, r)
		})
	}
}

// SetCSP replaces the response's Content-Security-Policy with policy; call
// it before writing the header. Pages (login, consent) need to load their
// own styles and scripts, so they set a policy of their own, ideally with
// nonces (OWASP CSP Cheat Sheet). Framing stays denied: when policy has no
// frame-ancestors directive, "frame-ancestors 'none'" is appended. Control
// and non-ASCII characters are replaced by spaces so the header cannot be
// split.
func SetCSP(w http.ResponseWriter, policy string) {
	policy = sanitizeHeaderValue(policy)
	if !hasDirective(policy, "frame-ancestors") {
		policy = strings.TrimRight(policy, "; ")
		if policy != "" {
			policy += "; "
		}
		policy += "frame-ancestors 'none'"
	}
	w.Header()[hCSP] = []string{policy}
}

// hasDirective reports whether the CSP policy has the named directive
// (names are case-insensitive, CSP3 §2.2).
func hasDirective(policy, name string) bool {
	for d := range strings.SplitSeq(policy, ";") {
		d = strings.TrimSpace(d)
		dn, _, _ := strings.Cut(d, " ")
		if strings.EqualFold(dn, name) {
			return true
		}
	}
	return false
}

// sanitizeHeaderValue replaces every byte outside printable ASCII with a
// space.
func sanitizeHeaderValue(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = ' '
		}
	}
	return string(b)
}

// SetNoStore marks the response as not storable by any cache: Cache-Control
// no-store, and Pragma no-cache for HTTP/1.0 caches. Every response that
// carries or is shaped by credentials needs it (RFC 6749 §5.1; RFC 9111
// §5.2.2.5; OWASP Session Management Cheat Sheet).
func SetNoStore(w http.ResponseWriter) {
	h := w.Header()
	h[hCacheControl] = []string{"no-store"}
	h[hPragma] = []string{"no-cache"}
}

// NoStore wraps h so that every response it sends has SetNoStore's headers.
func NoStore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetNoStore(w)
		h.ServeHTTP(w, r)
	})
}
