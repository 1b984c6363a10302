// Package secretsclient calls a running Rampart's secrets API
// (/secrets/v1/): the remote half of `rampart secret` (--issuer URL with
// a token from `rampart login`) and of `rampart secret render` (a token,
// or a workload's X509-SVID over mTLS to ca.listen). It speaks the
// documents of internal/secretsapi.
package secretsclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-auth/rampart/internal/httpx"
	"github.com/rampart-auth/rampart/internal/secretsapi"
)

// Client calls the secrets API at one base URL, with a Bearer token or
// (token empty) the client certificate of its http.Client's transport.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// New returns a client for base (an issuer, or the https origin of
// ca.listen). base must be https, or http on a loopback address (a token
// is a bearer credential and values travel in the answers: RFC 6750
// §5.3). hc nil: a 30 s timeout. Redirects are never followed (one would
// carry the token elsewhere).
func New(base, token string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("%q is not a server URL like https://auth.example.com", base)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("%q: plain http is only allowed on a loopback address; secrets and the token would travel in clear", base)
		}
	default:
		return nil, fmt.Errorf("%q must be an https URL", base)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{base: strings.TrimSuffix(base, "/") + secretsapi.Prefix, token: token, hc: &c}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Error is a refusal of the API: its status and problem detail (which
// never carries a value).
type Error = httpx.APIError

// StatusOf returns the HTTP status of an *Error in err's chain (0: none).
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// do sends method op/arg (arg already a valid path: never escaped, the
// API refuses '%') with in as the JSON body and decodes the answer.
func (c *Client) do(ctx context.Context, method, rel string, q url.Values, in, out any) error {
	u := c.base + "/" + rel
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return httpx.CallJSON(ctx, c.hc, method, u, c.token, in, out, "secrets API")
}

// Get reads the version of path that version (non-zero) or label
// (non-empty) selects; both zero: current.
func (c *Client) Get(ctx context.Context, path string, version int64, label string) (secretsapi.SecretDoc, error) {
	q := url.Values{}
	if version != 0 {
		q.Set("version", strconv.FormatInt(version, 10))
	}
	if label != "" {
		q.Set("label", label)
	}
	var out secretsapi.SecretDoc
	return out, c.do(ctx, http.MethodGet, "data/"+path, q, nil, &out)
}

// Put writes a new version.
func (c *Client) Put(ctx context.Context, path string, in secretsapi.PutRequest) (secretsapi.WrittenDoc, error) {
	var out secretsapi.WrittenDoc
	return out, c.do(ctx, http.MethodPut, "data/"+path, nil, in, &out)
}

// Metadata reads the secret's metadata and versions.
func (c *Client) Metadata(ctx context.Context, path string) (secretsapi.MetadataDoc, error) {
	var out secretsapi.MetadataDoc
	return out, c.do(ctx, http.MethodGet, "metadata/"+path, nil, nil, &out)
}

// List lists the secrets under prefix ("" everything the caller may
// list).
func (c *Client) List(ctx context.Context, prefix string) (secretsapi.ListDoc, error) {
	var out secretsapi.ListDoc
	return out, c.do(ctx, http.MethodGet, "list/"+prefix, nil, nil, &out)
}

// MoveLabel points label at version (expect: check-and-set, nil none).
func (c *Client) MoveLabel(ctx context.Context, path, label string, version int64, expect *int64) error {
	return c.do(ctx, http.MethodPut, "labels/"+path, nil, secretsapi.LabelRequest{Label: label, Version: version, Expect: expect}, nil)
}

// RemoveLabel removes label.
func (c *Client) RemoveLabel(ctx context.Context, path, label string, expect *int64) error {
	q := url.Values{"label": {label}}
	if expect != nil {
		q.Set("expect", strconv.FormatInt(*expect, 10))
	}
	return c.do(ctx, http.MethodDelete, "labels/"+path, q, nil, nil)
}

// Versions runs delete, undelete or destroy (op) on versions.
func (c *Client) Versions(ctx context.Context, op, path string, versions []int64) error {
	switch op {
	case "delete", "undelete", "destroy":
	default:
		return fmt.Errorf("secretsclient: %q is not a versions operation", op)
	}
	if versions == nil {
		versions = []int64{}
	}
	return c.do(ctx, http.MethodPost, op+"/"+path, nil, secretsapi.VersionsRequest{Versions: versions}, nil)
}

// Rotate asks for a rotation.
func (c *Client) Rotate(ctx context.Context, path string, now bool, reason string) (secretsapi.StatusDoc, error) {
	var out secretsapi.StatusDoc
	return out, c.do(ctx, http.MethodPost, "rotate/"+path, nil, secretsapi.RotateRequest{Now: now, Reason: reason}, &out)
}

// Rotation reads the rotation status.
func (c *Client) Rotation(ctx context.Context, path string) (secretsapi.StatusDoc, error) {
	var out secretsapi.StatusDoc
	return out, c.do(ctx, http.MethodGet, "rotation/"+path, nil, nil, &out)
}

func ttlString(ttl time.Duration) string {
	if ttl == 0 {
		return ""
	}
	return ttl.String()
}

// CreateLease creates a dynamic credential (the answer holds its
// password).
func (c *Client) CreateLease(ctx context.Context, path string, ttl time.Duration) (secretsapi.LeaseDoc, error) {
	var out secretsapi.LeaseDoc
	return out, c.do(ctx, http.MethodPost, "leases/"+path, nil, secretsapi.TTLRequest{TTL: ttlString(ttl)}, &out)
}

// RenewLease renews a lease.
func (c *Client) RenewLease(ctx context.Context, id string, ttl time.Duration) (secretsapi.LeaseDoc, error) {
	if !secretsapi.ValidLeaseID(id) {
		return secretsapi.LeaseDoc{}, errors.New("a lease id is 32 lower-case hex digits")
	}
	var out secretsapi.LeaseDoc
	return out, c.do(ctx, http.MethodPut, "lease/"+id, nil, secretsapi.TTLRequest{TTL: ttlString(ttl)}, &out)
}

// RevokeLease revokes a lease.
func (c *Client) RevokeLease(ctx context.Context, id string) error {
	if !secretsapi.ValidLeaseID(id) {
		return errors.New("a lease id is 32 lower-case hex digits")
	}
	return c.do(ctx, http.MethodDelete, "lease/"+id, nil, nil, nil)
}

// ListLeases lists the leases of path (no passwords).
func (c *Client) ListLeases(ctx context.Context, path string) (secretsapi.LeasesDoc, error) {
	var out secretsapi.LeasesDoc
	return out, c.do(ctx, http.MethodGet, "leases/"+path, nil, nil, &out)
}

// SVIDDirClient returns an http.Client for ca.listen that presents the
// X509-SVID `rampart agent --out DIR` keeps in dir (svid.pem, svid.key),
// read again at every handshake so a renewed SVID is used at once, and
// trusts the CA bundle there (bundle.pem). TLS 1.3 only, as ca.listen.
func SVIDDirClient(dir string) (*http.Client, error) {
	bundle, err := os.ReadFile(filepath.Join(dir, "bundle.pem")) // #nosec G304 -- the operator's agent directory
	if err != nil {
		return nil, fmt.Errorf("--svid-dir: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(bundle) {
		return nil, errors.New("--svid-dir: bundle.pem holds no certificate")
	}
	load := func() (*tls.Certificate, error) {
		c, err := tls.LoadX509KeyPair(filepath.Join(dir, "svid.pem"), filepath.Join(dir, "svid.key"))
		if err != nil {
			return nil, fmt.Errorf("--svid-dir: %w", err)
		}
		return &c, nil
	}
	if _, err := load(); err != nil {
		return nil, err
	}
	tc := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS13,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return load() }}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}, nil
}
