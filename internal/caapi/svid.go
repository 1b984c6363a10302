package caapi

import (
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/ca"
	"github.com/rampart-auth/rampart/internal/httpx"
)

// svidResponse is the 200 answer of POST /ca/v1/svid (contract.md).
type svidResponse struct {
	SPIFFEID  string `json:"spiffe_id"`
	SVID      string `json:"svid"`   // PEM, leaf then intermediate
	Bundle    string `json:"bundle"` // PEM, every X.509 authority
	CRL       string `json:"crl"`    // PEM X509 CRL
	ExpiresAt string `json:"expires_at"`
	Serial    string `json:"serial"`
}

// svid is POST /ca/v1/svid: limit, media type, size, body, then exactly
// one credential (Authorization Bearer join token, Authorization Basic
// OAuth client, or no Authorization and the TLS client certificate of a
// renewal), then the CA.
func (h *Handlers) svid(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// The per-address limit comes first, so a flood costs a map lookup,
	// not a JSON parse, a secret check or a signature.
	d, err := h.o.Limiter.Allow(ctx, h.addr(r))
	if err != nil {
		h.unavailable(w, r, "enrolment (rate limiter)", err)
		return
	}
	if !d.Allowed {
		secs := strconv.FormatInt(retrySecs(d.RetryAfter), 10)
		h.audit(r, audit.Event{Actor: "anonymous", Action: audit.ActionCASVIDIssue, Target: "ca:enrolment", Outcome: audit.OutcomeDenied,
			Reason: "rate_limited_ip", Details: map[string]string{"retry_after_s": secs}})
		w.Header().Set("Retry-After", secs)
		httpx.WriteProblem(w, r, http.StatusTooManyRequests, "", "Too many enrolment requests from this address; retry later.")
		return
	}
	if !jsonContentType(r.Header.Values("Content-Type")) {
		httpx.WriteProblem(w, r, http.StatusUnsupportedMediaType, "", "Send the request as application/json.")
		return
	}
	if r.ContentLength > MaxBodyBytes {
		w.Header().Set("Connection", "close")
		httpx.WriteProblem(w, r, http.StatusRequestEntityTooLarge, "", "The request body is too large.")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			httpx.WriteProblem(w, r, http.StatusRequestEntityTooLarge, "", "The request body is too large.")
			return
		}
		httpx.WriteProblem(w, r, http.StatusBadRequest, "", "The request body could not be read.")
		return
	}
	csr, err := decodeRequest(body)
	if err != nil {
		httpx.WriteProblem(w, r, http.StatusBadRequest, "", err.Error())
		return
	}
	cred, ok := h.credential(w, r)
	if !ok {
		return
	}
	svid, err := h.o.Authority.Issue(ctx, ca.IssueRequest{CSR: csr, Cred: cred, ClientIP: httpx.ClientIP(r)})
	if err != nil {
		h.issueError(w, r, err)
		return
	}
	crl, err := h.o.Authority.CRL(ctx)
	if err != nil {
		h.unavailable(w, r, "crl", err)
		return
	}
	var chain []byte
	for _, der := range svid.Chain {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	out, err := json.Marshal(svidResponse{
		SPIFFEID:  svid.ID.String(),
		SVID:      string(chain),
		Bundle:    string(h.o.Authority.BundlePEM()),
		CRL:       string(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl})),
		ExpiresAt: svid.NotAfter.UTC().Format(time.RFC3339),
		Serial:    svid.Serial,
	})
	if err != nil {
		httpx.WriteError(w, r, h.o.Logger, err)
		return
	}
	// One answer for one caller: no cache keeps it (RFC 9111 §5.2.2.5).
	httpx.SetNoStore(w)
	w.Header().Set("Content-Type", ctJSON)
	_, _ = w.Write(append(out, '\n'))
}

// credential picks the request's one credential, or answers the refusal.
func (h *Handlers) credential(w http.ResponseWriter, r *http.Request) (ca.Credential, bool) {
	kind, token, err := parseAuthorization(r.Header.Values("Authorization"))
	var br errBadRequest
	switch {
	case errors.As(err, &br):
		httpx.WriteProblem(w, r, http.StatusBadRequest, "", br.Error())
		return nil, false
	case err != nil:
		unauthorized(w, r, false, "The credential is missing, invalid, used or expired.")
		return nil, false
	}
	switch kind {
	case authBearer:
		return ca.JoinTokenCred{Token: token}, true
	case authBasic:
		if h.o.Clients == nil {
			unauthorized(w, r, true, "The credential is missing, invalid, used or expired.")
			return nil, false
		}
		id, err := h.o.Clients.AuthenticateClient(r)
		if err != nil {
			h.clientAuthError(w, r, err)
			return nil, false
		}
		return ca.ClientCred{ClientID: id}, true
	}
	// No Authorization header: a renewal, proven by the TLS client
	// certificate. crypto/tls only asked for it (RequestClientCert); the
	// CA verifies the chain, the expiry and revocation.
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		unauthorized(w, r, false, "Send a join token (Authorization: Bearer), client credentials (Basic) or renew over mTLS with the current SVID.")
		return nil, false
	}
	return ca.PeerSVIDCred{Chain: r.TLS.PeerCertificates}, true
}

// clientAuthError answers a refused client authentication.
func (h *Handlers) clientAuthError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *AuthError
	if !errors.As(err, &ae) {
		h.unavailable(w, r, "enrolment (client authentication)", err)
		return
	}
	switch ae.Status {
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", strconv.FormatInt(retrySecs(ae.RetryAfter), 10))
		httpx.WriteProblem(w, r, http.StatusTooManyRequests, "", "Too many failed client authentications from this address; retry later.")
	case http.StatusUnauthorized:
		unauthorized(w, r, true, "The credential is missing, invalid, used or expired.")
	default:
		w.Header().Set("Retry-After", strconv.FormatInt(retrySecs(ae.RetryAfter), 10))
		httpx.WriteProblem(w, r, http.StatusServiceUnavailable, "", "Client authentication is unavailable; try again shortly.")
	}
}

// issueError answers the CA's refusal with its code's status and public
// message; the cause goes to the log only.
func (h *Handlers) issueError(w http.ResponseWriter, r *http.Request, err error) {
	var ce *ca.Error
	if !errors.As(err, &ce) {
		h.o.Logger.ErrorContext(r.Context(), "ca: issue failed", "err", err)
		httpx.WriteProblem(w, r, http.StatusInternalServerError, "", "")
		return
	}
	level := "info"
	switch ce.Code {
	case ca.CodeBadRequest:
		httpx.WriteProblem(w, r, http.StatusBadRequest, "", ce.Public)
	case ca.CodeUnauthorized:
		unauthorized(w, r, false, ce.Public)
	case ca.CodeForbidden:
		httpx.WriteProblem(w, r, http.StatusForbidden, "", ce.Public)
	case ca.CodeUnavailable:
		level = "error"
		w.Header().Set("Retry-After", "5")
		httpx.WriteProblem(w, r, http.StatusServiceUnavailable, "", ce.Public)
	default:
		level = "error"
		httpx.WriteProblem(w, r, http.StatusInternalServerError, "", "")
	}
	if level == "error" {
		h.o.Logger.ErrorContext(r.Context(), "ca: issue failed", "err", err)
	} else {
		h.o.Logger.InfoContext(r.Context(), "ca: issue refused", "err", err)
	}
}

// unauthorized answers 401 with the Bearer challenge (RFC 6750 §3), and a
// Basic one too when the request tried Basic (RFC 7617 §2).
func unauthorized(w http.ResponseWriter, r *http.Request, basic bool, detail string) {
	w.Header().Set("WWW-Authenticate", "Bearer")
	if basic {
		w.Header().Add("WWW-Authenticate", `Basic realm="rampart-ca", charset="UTF-8"`)
	}
	httpx.WriteProblem(w, r, http.StatusUnauthorized, "", detail)
}

// audit records e with the request's client address and id; a failure is
// logged (the refusal stands either way).
func (h *Handlers) audit(r *http.Request, e audit.Event) {
	if h.o.Audit == nil {
		return
	}
	e.ClientAddr, e.RequestID = httpx.ClientIP(r), httpx.RequestIDFrom(r.Context())
	if err := h.o.Audit.Record(r.Context(), e); err != nil {
		h.o.Logger.ErrorContext(r.Context(), "ca: audit record failed", "action", e.Action, "err", err)
	}
}

func retrySecs(d time.Duration) int64 { return max(1, int64((d+time.Second-1)/time.Second)) }
