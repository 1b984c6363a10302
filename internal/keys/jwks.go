package keys

import (
	"net/http"
	"strings"
)

// JWKSHandler serves the JWKS (RFC 7517 §5) for /.well-known/jwks.json:
// the published, active and retired keys, public members only. The
// document is serialized when the ring changes, never per request. A
// request finding the cached ring older than a second checks
// key_ring.generation (one query per second at most, shared by concurrent
// requests) so a rotation by another instance or the CLI shows within about
// a second. If the database cannot be reached the last document is served.
//
// Responses carry Cache-Control: public, max-age=JWKSMaxAge and a strong
// ETag; If-None-Match answers 304. Only GET and HEAD are allowed.
func (m *Manager) JWKSHandler() http.Handler { return jwksHandler{m} }

type jwksHandler struct{ m *Manager }

var (
	jsonContentType = []string{"application/json"}
	nosniff         = []string{"nosniff"}
)

const problem405 = `{"type":"about:blank","title":"Method Not Allowed","status":405}`
const problem503 = `{"type":"about:blank","title":"Service Unavailable","status":503}`

func (h jwksHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeProblem(w, http.StatusMethodNotAllowed, problem405)
		return
	}
	h.m.refresh(r.Context(), false)
	rg := h.m.ring.Load()
	if rg == nil {
		writeProblem(w, http.StatusServiceUnavailable, problem503)
		return
	}
	// Header values are built once per ring and shared by every response
	// (no allocation per request). Each slice has len == cap, so a later
	// Header().Add appends into a copy and Set replaces it: the shared
	// values cannot be changed through the map.
	hdr := w.Header()
	hdr["Cache-Control"] = h.m.cacheControl
	hdr["Etag"] = rg.etag
	// RFC 9110 §13.1.2: If-None-Match uses the weak comparison.
	if etagMatch(r.Header.Get("If-None-Match"), rg.etag[0]) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr["Content-Type"] = jsonContentType
	hdr["Content-Length"] = rg.length
	hdr["X-Content-Type-Options"] = nosniff
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(rg.doc)
}

func writeProblem(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// etagMatch reports whether the If-None-Match value lists etag (or is "*"),
// comparing weakly (a W/ prefix is ignored). It does not allocate.
func etagMatch(header, etag string) bool {
	for header != "" {
		var tag string
		tag, header, _ = strings.Cut(header, ",")
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
			return true
		}
	}
	return false
}
