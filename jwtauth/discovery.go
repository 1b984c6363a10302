package jwtauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// DiscoverJWKSURL finds an issuer's jwks_uri from its metadata: first
// OpenID Connect Discovery (issuer + "/.well-known/openid-configuration"),
// then, when that answers 404, RFC 8414 authorization server metadata
// ("/.well-known/oauth-authorization-server" inserted before the issuer's
// path, RFC 8414 §3.1). The issuer must be https (or http on a loopback
// host) without query or fragment (RFC 8414 §2). The document is fetched
// with the JWKS rules (5 s timeout when client has none, 1 MiB cap, no
// redirect to another scheme or host), must be a strict JSON object, its
// "issuer" must equal the configured issuer exactly (OpenID Connect
// Discovery §4.3, RFC 8414 §3.3: this stops one issuer's metadata, for
// example served through a compromised or mix-up-prone path, from directing
// us to another's keys), and its jwks_uri must satisfy the same URL rules.
// client may be nil.
func DiscoverJWKSURL(ctx context.Context, client *http.Client, issuer string) (string, error) {
	iu, err := checkEndpoint(issuer)
	if err != nil {
		return "", fmt.Errorf("jwtauth: discovery: issuer: %w", err)
	}
	if iu.RawQuery != "" || iu.ForceQuery || iu.Fragment != "" {
		return "", errors.New("jwtauth: discovery: issuer must not have a query or fragment (RFC 8414 §2)")
	}
	c := secureClient(client)
	path := strings.TrimSuffix(iu.EscapedPath(), "/")
	origin := iu.Scheme + "://" + iu.Host
	candidates := []string{
		origin + path + "/.well-known/openid-configuration",
		origin + "/.well-known/oauth-authorization-server" + path,
	}
	var lastErr error
	for i, u := range candidates {
		body, _, err := httpGet(ctx, c, u, DefaultJWKSMaxBodyBytes, "application/json")
		var se *statusError
		if i == 0 && errors.As(err, &se) && se.code == http.StatusNotFound {
			lastErr = err
			continue
		}
		if err != nil {
			return "", fmt.Errorf("jwtauth: discovery: %w", err)
		}
		return jwksURIFromMetadata(body, issuer)
	}
	return "", fmt.Errorf("jwtauth: discovery: %w", lastErr)
}

// jwksURIFromMetadata checks a metadata document against the configured
// issuer and returns its jwks_uri.
func jwksURIFromMetadata(body []byte, issuer string) (string, error) {
	if err := checkJSONObjectNames(body, metadataNames); err != nil {
		return "", fmt.Errorf("jwtauth: discovery: metadata: %w", err)
	}
	var doc struct {
		Issuer  *string `json:"issuer"`
		JWKSURI *string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", errors.New("jwtauth: discovery: metadata: issuer and jwks_uri must be strings")
	}
	if doc.Issuer == nil {
		return "", errors.New("jwtauth: discovery: metadata has no issuer")
	}
	// Exact, case-sensitive comparison: no normalisation (OpenID Connect
	// Discovery §4.3 "MUST exactly match"; RFC 8414 §3.3 "identical").
	if *doc.Issuer != issuer {
		return "", fmt.Errorf("jwtauth: discovery: metadata issuer %q differs from the configured issuer %q (possible mix-up; OpenID Connect Discovery §4.3)",
			clip(*doc.Issuer), issuer)
	}
	if doc.JWKSURI == nil || *doc.JWKSURI == "" {
		return "", errors.New("jwtauth: discovery: metadata has no jwks_uri")
	}
	if _, err := checkEndpoint(*doc.JWKSURI); err != nil {
		return "", fmt.Errorf("jwtauth: discovery: jwks_uri %q: %w", clip(*doc.JWKSURI), err)
	}
	return *doc.JWKSURI, nil
}

// ---- HTTP fetching shared by JWKS and discovery ----

const maxRedirects = 3

// checkEndpoint checks a URL we fetch keys or metadata from: https, or
// http only on a loopback host (local development and tests; anything else
// in clear text lets a network attacker substitute keys: RFC 8414 §2,
// OpenID Connect Discovery §4, RFC 8725 §3.10 on trusting key sources); a
// host; no user credentials (they would leak into logs and metrics).
func checkEndpoint(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a valid URL")
	}
	if u.User != nil {
		return nil, errors.New("must not contain credentials")
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, errors.New("must be an absolute URL with a host")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopbackHost(u.Hostname()) {
			return nil, errors.New("must use https (http is allowed only for loopback hosts)")
		}
	default:
		return nil, errors.New("must use https")
	}
	return u, nil
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// secureClient returns a copy of c (or a default client) whose redirect
// policy keeps to the original scheme and host, at most maxRedirects
// times, and which has a timeout.
func secureClient(c *http.Client) *http.Client {
	out := &http.Client{}
	if c != nil {
		*out = *c
	}
	if out.Timeout <= 0 {
		out.Timeout = DefaultJWKSTimeout
	}
	out.CheckRedirect = checkRedirect
	return out
}

// checkRedirect refuses a redirect to another scheme or host: an open
// redirect or a compromised path on the issuer must not let another origin
// (or plain http) supply the keys (RFC 8725 §3.10).
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return fmt.Errorf("more than %d redirects", maxRedirects)
	}
	orig := via[0].URL
	if req.URL.Scheme != orig.Scheme || !strings.EqualFold(req.URL.Host, orig.Host) {
		return fmt.Errorf("redirect from %s://%s to %s://%s refused: a redirect may not change scheme or host",
			orig.Scheme, orig.Host, req.URL.Scheme, clip(req.URL.Host))
	}
	return nil
}

// statusError is a non-200 response.
type statusError struct{ code int }

func (e *statusError) Error() string { return fmt.Sprintf("HTTP status %d", e.code) }

// httpGet fetches u and returns its body (at most limit bytes; a larger
// body is an error, not truncated JSON) and headers. Only 200 is success.
func httpGet(ctx context.Context, c *http.Client, u string, limit int64, accept string) ([]byte, http.Header, error) {
	// The URL is configuration or metadata that passed checkEndpoint, never
	// request data; redirects are confined by checkRedirect.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil) // #nosec G704 -- see above.
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", accept)
	resp, err := c.Do(req) // #nosec G107 G704 -- as above.
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, &statusError{code: resp.StatusCode}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading body: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, nil, fmt.Errorf("body larger than %d bytes", limit)
	}
	return body, resp.Header, nil
}

// clip bounds attacker-supplied text before it goes into an error message.
func clip(s string) string {
	const n = 128
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
