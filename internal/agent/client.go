package agent

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// requestTimeout bounds one call to the CA, handshake included.
const requestTimeout = 30 * time.Second

// caError is a refusal or failure answered by the CA (or the way to it).
type caError struct {
	status     int           // HTTP status; 0 for a transport error
	detail     string        // the problem's detail or the transport error
	retryAfter time.Duration // from Retry-After on 429/503
}

func (e *caError) Error() string {
	if e.status == 0 {
		return "agent: the CA is unreachable: " + e.detail
	}
	if e.detail == "" {
		return fmt.Sprintf("agent: the CA answered %d", e.status)
	}
	return fmt.Sprintf("agent: the CA answered %d: %s", e.status, e.detail)
}

// refused reports whether the CA refused the credential or the request
// itself (retrying the same request cannot succeed), as opposed to being
// unavailable (transport error, 429, 5xx).
func (e *caError) refused() bool {
	return e.status >= 400 && e.status < 500 && e.status != http.StatusTooManyRequests && e.status != http.StatusRequestTimeout
}

// trustError is a first-contact verification failure of the CA's
// certificate: never retried, since the server is not the pinned CA.
type trustError struct{ err error }

func (e *trustError) Error() string { return e.err.Error() }
func (e *trustError) Unwrap() error { return e.err }

// credential is how an enrolment authenticates: a join token (one-time)
// or client credentials (reusable), as an Authorization header value.
type credential struct {
	authorization string
	pin           []byte // the join token's root pin; nil for client credentials
	reusable      bool
}

// joinTokenCredential is `Authorization: Bearer rjt1…` (contract.md).
func joinTokenCredential(tok string) (*credential, error) {
	pin, err := parseJoinToken(tok)
	if err != nil {
		return nil, err
	}
	return &credential{authorization: "Bearer " + tok, pin: pin}, nil
}

// clientCredential is HTTP Basic with the id and secret each
// form-urlencoded first (RFC 6749 §2.3.1).
func clientCredential(id, secret string) *credential {
	raw := url.QueryEscape(id) + ":" + url.QueryEscape(secret)
	return &credential{authorization: "Basic " + base64.StdEncoding.EncodeToString([]byte(raw)), reusable: true}
}

// caClient calls the CA's HTTP API.
type caClient struct {
	server *url.URL
}

func (c *caClient) url(path string) string {
	u := *c.server
	u.Path += path
	return u.String()
}

// do sends req over a connection with tlsConf and returns the body of a
// 200 with the wanted media type, or a *caError.
func (c *caClient) do(tlsConf *tls.Config, req *http.Request, wantType string) ([]byte, error) {
	tr := &http.Transport{TLSClientConfig: tlsConf, DisableKeepAlives: true, ForceAttemptHTTP2: true,
		TLSHandshakeTimeout: 10 * time.Second, ResponseHeaderTimeout: requestTimeout}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: requestTimeout,
		// The enrolment API does not redirect; following one would send
		// the credential elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		var te *trustError
		if errors.As(err, &te) {
			return nil, te
		}
		return nil, &caError{detail: err.Error()}
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, &caError{detail: err.Error()}
	}
	if len(body) > maxResponseBytes {
		return nil, &caError{status: resp.StatusCode, detail: "answer too large"}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, problemError(resp, body)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != wantType {
		return nil, &caError{status: resp.StatusCode, detail: fmt.Sprintf("answer of type %q, not %s", mt, wantType)}
	}
	return body, nil
}

// problemError turns a non-200 into a caError with the RFC 9457 detail
// (bounded and single-line for the log) and Retry-After.
func problemError(resp *http.Response, body []byte) *caError {
	e := &caError{status: resp.StatusCode}
	var p struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
	}
	if json.Unmarshal(body, &p) == nil {
		e.detail = p.Detail
		if e.detail == "" {
			e.detail = p.Title
		}
	}
	e.detail = strings.Join(strings.Fields(e.detail), " ")
	if len(e.detail) > 200 {
		e.detail = e.detail[:200]
	}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		e.retryAfter = time.Duration(min(secs, 3600)) * time.Second
	}
	return e
}

// newKey generates the SVID's key: a fresh ECDSA P-256 key per
// enrolment and renewal (never reused, never sent: only the CSR leaves).
func newKey() (crypto.Signer, []byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("agent: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, fmt.Errorf("agent: encode key: %w", err)
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// newCSR returns a PEM PKCS#10 request signed by key, with the URI SAN
// want when it is not zero (the CA ignores the subject).
func newCSR(key crypto.Signer, want spiffeid.ID) ([]byte, error) {
	tmpl := &x509.CertificateRequest{}
	if !want.IsZero() {
		tmpl.URIs = []*url.URL{want.URL()}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("agent: create CSR: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// requestSVID posts a CSR to POST /ca/v1/svid. authorization is empty
// for a renewal (the TLS client certificate is the credential).
func (c *caClient) requestSVID(ctx context.Context, tlsConf *tls.Config, authorization string, csrPEM []byte) (*issued, error) {
	body, err := json.Marshal(map[string]string{"csr": string(csrPEM)})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/ca/v1/svid"), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := c.do(tlsConf, req, "application/json")
	if err != nil {
		return nil, err
	}
	return decodeSVIDResponse(resp)
}

// fetchBundle gets GET /ca/v1/bundle?format=pem.
func (c *caClient) fetchBundle(ctx context.Context, tlsConf *tls.Config) ([]*x509.Certificate, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/ca/v1/bundle")+"?format=pem", nil)
	if err != nil {
		return nil, err
	}
	body, err := c.do(tlsConf, req, "application/x-pem-file")
	if err != nil {
		return nil, err
	}
	return parseCertsPEM(body, maxBundleCerts)
}

// fetchCRL gets GET /ca/v1/crl (DER, application/pkix-crl, RFC 2585).
func (c *caClient) fetchCRL(ctx context.Context, tlsConf *tls.Config) (*x509.RevocationList, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/ca/v1/crl"), nil)
	if err != nil {
		return nil, err
	}
	body, err := c.do(tlsConf, req, "application/pkix-crl")
	if err != nil {
		return nil, err
	}
	return x509.ParseRevocationList(body)
}

// firstContactTLS is the client configuration for an enrolment: TLS 1.3,
// and the CA's chain verified by verifyFirstContact against the anchors
// instead of the system roots (the CA is private). td receives the trust
// domain found.
func firstContactTLS(a anchors, now func() time.Time, td *spiffeid.TrustDomain) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		// Verification is verifyFirstContact's: the pinned root, the
		// CA's SPIFFE ID. crypto/tls's own would need the root in a pool
		// and a host name the CA's certificate may not carry.
		// VerifyConnection rather than VerifyPeerCertificate: it also
		// runs on a resumed session.
		InsecureSkipVerify: true, // #nosec G402 -- VerifyConnection verifies the chain to the pinned root.
		VerifyConnection: func(cs tls.ConnectionState) error {
			t, err := verifyFirstContact(cs.PeerCertificates, a, now())
			if err != nil {
				return &trustError{err}
			}
			*td = t
			return nil
		},
	}
}
