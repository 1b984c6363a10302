package caapi

import (
	"bytes"
	"crypto/x509"
	"net/http"
	"strconv"
	"time"

	"github.com/rampart-auth/rampart/internal/httpx"
)

// Media types of the documents.
const (
	ctJSON = "application/json"
	// ctPEM is the customary type of PEM files (not registered; what
	// SPIRE and step-ca serve).
	ctPEM = "application/x-pem-file"
	// ctCRL is RFC 2585 §4.2's type of a DER CRL.
	ctCRL = "application/pkix-crl"
)

// bundle answers the SPIFFE trust bundle: JWKS (SPIFFE Trust Domain and
// Bundle §4) by default, PEM with ?format=pem.
func (h *Handlers) bundle(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format := q.Get("format")
	if len(q) > 1 || len(q["format"]) > 1 || (len(q) == 1 && !q.Has("format")) {
		httpx.WriteProblem(w, r, http.StatusBadRequest, "", "The only query parameter is format (jwks or pem).")
		return
	}
	var body []byte
	ct := ctJSON
	switch format {
	case "", "jwks":
		b, err := h.o.Authority.BundleJWKS()
		if err != nil {
			h.unavailable(w, r, "bundle", err)
			return
		}
		body = b
	case "pem":
		body, ct = h.o.Authority.BundlePEM(), ctPEM
	default:
		httpx.WriteProblem(w, r, http.StatusBadRequest, "", "format is jwks or pem.")
		return
	}
	// The bundle changes at rotation: caches revalidate every time.
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// parsedCRL is a CRL's DER with its nextUpdate, parsed once per CRL.
type parsedCRL struct {
	der  []byte
	next time.Time
}

// crlHandler answers the CRL, DER, cacheable until its nextUpdate at most
// (RFC 5280 §5.1.2.5).
func (h *Handlers) crlHandler(w http.ResponseWriter, r *http.Request) {
	der, err := h.o.Authority.CRL(r.Context())
	if err != nil {
		h.unavailable(w, r, "crl", err)
		return
	}
	next, err := h.nextUpdate(der)
	if err != nil {
		h.unavailable(w, r, "crl", err)
		return
	}
	maxAge := int64(next.Sub(h.o.Clock()) / time.Second)
	if maxAge < 0 {
		maxAge = 0
	}
	w.Header().Set("Cache-Control", "max-age="+strconv.FormatInt(maxAge, 10))
	w.Header().Set("Content-Type", ctCRL)
	w.Header().Set("Content-Length", strconv.Itoa(len(der)))
	_, _ = w.Write(der)
}

// nextUpdate returns the CRL's nextUpdate, parsing a CRL only when it
// differs from the last one.
func (h *Handlers) nextUpdate(der []byte) (time.Time, error) {
	h.crlMu.Lock()
	defer h.crlMu.Unlock()
	if bytes.Equal(h.crl.der, der) {
		return h.crl.next, nil
	}
	l, err := x509.ParseRevocationList(der)
	if err != nil {
		return time.Time{}, err
	}
	h.crl = parsedCRL{der: bytes.Clone(der), next: l.NextUpdate}
	return l.NextUpdate, nil
}

// unavailable answers 503: the CA could not produce the document (its
// store is down, say). The cause goes to the log only.
func (h *Handlers) unavailable(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.o.Logger.ErrorContext(r.Context(), "ca: cannot serve the "+what, "err", err)
	w.Header().Set("Retry-After", "5")
	httpx.WriteProblem(w, r, http.StatusServiceUnavailable, "", "The CA is unavailable; try again shortly.")
}
