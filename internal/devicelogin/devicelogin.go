// Package devicelogin is the client side of the device authorization
// grant (RFC 8628) behind `rampart login`: it reads the issuer's
// metadata, asks for a device code, tells the user where to enter it,
// and polls the token endpoint until the user decided, honouring the
// interval and slow_down. It stores nothing; the caller decides what
// happens to the token response (WriteFile writes it 0600).
package devicelogin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// GrantType is the device grant's grant_type (RFC 8628 §3.4).
const GrantType = "urn:ietf:params:oauth:grant-type:device_code"

// Errors a login ends with. The messages are for the user.
var (
	ErrDenied  = errors.New("devicelogin: the request was denied on the device page")
	ErrExpired = errors.New("devicelogin: the code expired before it was used; run the command again")
)

// UsageError is a command-line mistake (an issuer that is not an https
// URL, or plain http to a host other than loopback).
type UsageError struct{ msg string }

func (e *UsageError) Error() string { return "devicelogin: " + e.msg }

// Options configures a login. Issuer and ClientID are required.
type Options struct {
	Issuer   string
	ClientID string
	Scope    string // space-separated; empty asks for none
	// Prompt receives the instructions for the user (stderr).
	Prompt io.Writer
	// HTTPClient defaults to one with a 30 s timeout; redirects are never
	// followed (a token endpoint has no business redirecting a POST).
	HTTPClient *http.Client
	// Sleep waits between polls (tests inject it); it defaults to a timer
	// that honours ctx.
	Sleep func(ctx context.Context, d time.Duration) error
}

// maxBody bounds what is read from the server.
const maxBody = 1 << 20

// CheckIssuer refuses an issuer the login must not talk to: anything but
// an absolute https URL, or http to a loopback address (the tokens and
// the device code would cross the network in clear; RFC 8628 §5.3 and
// RFC 6749 §3.1 require TLS).
func CheckIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return &UsageError{fmt.Sprintf("--issuer %q is not an absolute URL without query or fragment", issuer)}
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return &UsageError{fmt.Sprintf("--issuer %q uses plain http to a host that is not loopback; use https", issuer)}
	}
	return &UsageError{fmt.Sprintf("--issuer %q must be an https URL", issuer)}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// metadata is what the login reads of RFC 8414 authorization server
// metadata.
type metadata struct {
	Issuer        string `json:"issuer"`
	DeviceAuthURL string `json:"device_authorization_endpoint"`
	TokenURL      string `json:"token_endpoint"`
}

// deviceAuth is RFC 8628 §3.2.
type deviceAuth struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// oauthError is RFC 6749 §5.2.
type oauthError struct {
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

// Run performs a device login and returns the token response (RFC 6749
// §5.1 JSON, as the server sent it).
func Run(ctx context.Context, o Options) ([]byte, error) {
	if err := CheckIssuer(o.Issuer); err != nil {
		return nil, err
	}
	if o.ClientID == "" {
		return nil, &UsageError{"--client-id is required"}
	}
	c := client{http: o.HTTPClient}
	if c.http == nil {
		c.http = &http.Client{Timeout: 30 * time.Second}
	}
	hc := *c.http
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.http = &hc
	iss := strings.TrimSuffix(o.Issuer, "/")
	md, err := c.metadata(ctx, iss)
	if err != nil {
		return nil, err
	}
	form := url.Values{"client_id": {o.ClientID}}
	if o.Scope != "" {
		form.Set("scope", o.Scope)
	}
	var da deviceAuth
	if st, body, err := c.post(ctx, md.DeviceAuthURL, form); err != nil {
		return nil, err
	} else if st != http.StatusOK {
		return nil, serverError("device authorization", st, body)
	} else if err := json.Unmarshal(body, &da); err != nil || da.DeviceCode == "" || da.UserCode == "" || da.VerificationURI == "" {
		return nil, errors.New("devicelogin: the device authorization response is incomplete")
	}
	prompt(o.Prompt, da)
	return c.poll(ctx, o, md.TokenURL, da)
}

// prompt tells the user where to go and warns about codes they did not
// ask for (RFC 8628 §5.4).
func prompt(w io.Writer, da deviceAuth) {
	if w == nil {
		return
	}
	fmt.Fprintf(w, "To sign in, open %s\nand enter the code: %s\n", clean(da.VerificationURI), clean(da.UserCode))
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(w, "(or open %s)\n", clean(da.VerificationURIComplete))
	}
	fmt.Fprintf(w, "Waiting for you to allow the request...\n")
}

// poll asks the token endpoint until the user decided: every interval
// seconds, 5 s longer after each slow_down (RFC 8628 §3.5), until the
// code expires.
func (c client) poll(ctx context.Context, o Options, tokenURL string, da deviceAuth) ([]byte, error) {
	interval := time.Duration(da.Interval) * time.Second
	if interval <= 0 {
		interval = 5 * time.Second // §3.2: the default when none is given
	}
	if da.ExpiresIn > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(da.ExpiresIn)*time.Second)
		defer cancel()
	}
	sleep := o.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	form := url.Values{"grant_type": {GrantType}, "device_code": {da.DeviceCode}, "client_id": {o.ClientID}}
	for {
		if err := sleep(ctx, interval); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return nil, ErrExpired
			}
			return nil, err
		}
		st, body, err := c.post(ctx, tokenURL, form)
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, ErrExpired
		}
		if err != nil {
			return nil, err
		}
		if st == http.StatusOK {
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			if json.Unmarshal(body, &tok) != nil || tok.AccessToken == "" {
				return nil, errors.New("devicelogin: the token response has no access_token")
			}
			return body, nil
		}
		var oe oauthError
		_ = json.Unmarshal(body, &oe)
		switch oe.Code {
		case "authorization_pending":
		case "slow_down":
			interval += 5 * time.Second
		case "access_denied":
			return nil, ErrDenied
		case "expired_token":
			return nil, ErrExpired
		default:
			return nil, serverError("token request", st, body)
		}
	}
}

// client is the login's HTTP client.
type client struct{ http *http.Client }

func (c client) metadata(ctx context.Context, iss string) (*metadata, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, iss+"/.well-known/oauth-authorization-server", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	st, body, err := c.do(req)
	if err != nil {
		return nil, err
	}
	if st != http.StatusOK {
		return nil, fmt.Errorf("devicelogin: the issuer's metadata answered HTTP %d", st)
	}
	var md metadata
	if err := json.Unmarshal(body, &md); err != nil {
		return nil, errors.New("devicelogin: the issuer's metadata is not JSON")
	}
	// RFC 8414 §3.3: the metadata must name the issuer it was fetched
	// for, or it is another server's (and its endpoints are not trusted).
	if md.Issuer != iss {
		return nil, fmt.Errorf("devicelogin: the metadata names issuer %q, not %q", clean(md.Issuer), iss)
	}
	if md.DeviceAuthURL == "" {
		return nil, errors.New("devicelogin: the issuer does not support the device authorization grant")
	}
	for _, e := range []string{md.DeviceAuthURL, md.TokenURL} {
		if err := CheckIssuer(e); err != nil {
			return nil, fmt.Errorf("devicelogin: the metadata's endpoint %q is not https (or loopback http)", clean(e))
		}
	}
	return &md, nil
}

func (c client) post(ctx context.Context, u string, form url.Values) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	return c.do(req)
}

func (c client) do(req *http.Request) (int, []byte, error) {
	resp, err := c.http.Do(req) // #nosec G704 -- the URL is the issuer given on the command line, or an endpoint from its metadata checked by CheckIssuer
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, nil, err
		}
		return 0, nil, fmt.Errorf("devicelogin: %s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, nil, fmt.Errorf("devicelogin: reading the answer: %w", err)
	}
	return resp.StatusCode, bytes.TrimSpace(body), nil
}

// serverError describes an unexpected answer: the OAuth error code and
// description when there is one (control characters removed: the text
// is the server's and goes to a terminal).
func serverError(what string, status int, body []byte) error {
	var oe oauthError
	if json.Unmarshal(body, &oe) == nil && oe.Code != "" {
		if oe.Description != "" {
			return fmt.Errorf("devicelogin: %s refused: %s (%s)", what, clean(oe.Code), clean(oe.Description))
		}
		return fmt.Errorf("devicelogin: %s refused: %s", what, clean(oe.Code))
	}
	return fmt.Errorf("devicelogin: %s answered HTTP %s", what, strconv.Itoa(status))
}

// clean drops control characters (terminal escapes) from server text and
// bounds its length.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
