package agent

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// KeyTypeECP256 is the only key type: ECDSA P-256, the X509-SVID default
// and what the CA signs with (contract.md).
const KeyTypeECP256 = "ec-p256"

// Config configures an Agent: the flags of `rampart agent` plus the
// injected clock, randomness and logger.
type Config struct {
	Server           string // https URL of the CA's enrolment listener (ca.listen)
	JoinTokenFile    string // a file holding one join token rjt1.…
	ClientID         string // or an OAuth client mapped to a SPIFFE ID…
	ClientSecretFile string // …and a file holding its secret
	OutDir           string // write svid.pem, svid.key, bundle.pem, crl.pem here
	Socket           string // serve the SVID on this unix socket
	SPIFFEID         string // the ID to ask for; empty when the credential names one
	BundleFile       string // PEM authorities to trust the CA with on first contact
	MetricsListen    string // loopback host:port serving /metrics, or empty
	KeyType          string // KeyTypeECP256 (the default when empty)

	Logger *slog.Logger     // default slog.Default()
	Now    func() time.Time // default time.Now
	// Jitter returns a number uniform in [0, 1) for the renewal and
	// backoff jitter; default math/rand/v2.
	Jitter func() float64
}

// UsageError is a command-line mistake: a flag missing, malformed or
// naming an unusable file (exit 2).
type UsageError struct{ msg string }

func (e *UsageError) Error() string { return "agent: " + e.msg }

func usagef(format string, a ...any) error { return &UsageError{fmt.Sprintf(format, a...)} }

// settings is a validated Config.
type settings struct {
	Config
	server *url.URL
	want   spiffeid.ID // zero when not asked
}

// validate checks the flags' shapes (files are read when needed: a
// renewal at start does not need the join token, which was consumed).
func (c Config) validate() (*settings, error) {
	s := &settings{Config: c}
	u, err := url.Parse(c.Server)
	switch {
	case c.Server == "":
		return nil, usagef("--server URL is required (the CA's enrolment listener, https://host:port)")
	case err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
		// The enrolment API is HTTPS only (contract.md): the CA's
		// certificate is what the pinned root authenticates.
		return nil, usagef("--server %q must be an https URL with a host and no query", c.Server)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	s.server = u
	hasToken, hasClient := c.JoinTokenFile != "", c.ClientID != "" || c.ClientSecretFile != ""
	switch {
	case hasToken && hasClient:
		return nil, usagef("give --join-token-file or --client-id with --client-secret-file, not both")
	case !hasToken && !hasClient:
		return nil, usagef("a credential is required: --join-token-file FILE, or --client-id ID with --client-secret-file FILE")
	case hasClient && (c.ClientID == "" || c.ClientSecretFile == ""):
		return nil, usagef("--client-id and --client-secret-file go together")
	}
	if c.OutDir == "" && c.Socket == "" {
		return nil, usagef("--out DIR is required unless --socket PATH is given")
	}
	if c.SPIFFEID != "" {
		id, err := parseCanonicalID(c.SPIFFEID)
		if err != nil {
			return nil, usagef("--spiffe-id: %v", err)
		}
		s.want = id
	}
	if c.KeyType != "" && c.KeyType != KeyTypeECP256 {
		return nil, usagef("--key-type %q: the only key type is %s", c.KeyType, KeyTypeECP256)
	}
	if c.MetricsListen != "" {
		if err := checkLoopback(c.MetricsListen); err != nil {
			return nil, err
		}
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Jitter == nil {
		s.Jitter = rand.Float64 // #nosec G404 -- scheduling jitter, not a secret.
	}
	return s, nil
}

// checkLoopback refuses a metrics address off loopback: the metrics
// listener is plain HTTP, which Rampart serves on loopback only
// (DESIGN.md principle 1); a scraper elsewhere reads the socket's /metrics
// through a local exporter or sidecar.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("--metrics-listen %q: %v", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return usagef("--metrics-listen %q: plain HTTP is served on loopback only (127.0.0.1:PORT, [::1]:PORT or localhost:PORT)", addr)
}

// Join token format (contract.md): rjt1.<base64url-nopad(32 random
// bytes)>.<base64url-nopad(sha256(root DER))>.
const (
	joinTokenPrefix = "rjt1."
	joinTokenPart   = 32
)

// parseJoinToken checks a join token's shape and returns the root pin
// (its third part). The secret part is not interpreted: the CA checks it.
func parseJoinToken(tok string) ([]byte, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[0]+"." != joinTokenPrefix {
		return nil, errors.New("not a join token (rjt1.<secret>.<root hash>)")
	}
	for i, p := range parts[1:] {
		b, err := base64.RawURLEncoding.Strict().DecodeString(p)
		if err != nil || len(b) != joinTokenPart {
			return nil, fmt.Errorf("not a join token: part %d is not %d bytes of base64url", i+2, joinTokenPart)
		}
		if i == 1 {
			return b, nil
		}
	}
	return nil, errors.New("not a join token")
}

// readSecretFile reads a one-line secret file: surrounding whitespace (a
// trailing newline) is dropped; an empty or unreadable file is a usage
// error naming the flag.
func readSecretFile(flag, path string) (string, error) {
	b, err := readSmall(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", usagef("%s %s: no such file", flag, path)
		}
		return "", usagef("%s %s: %v", flag, path, err)
	}
	s := string(bytes.TrimSpace(b))
	clear(b)
	if s == "" {
		return "", usagef("%s %s is empty", flag, path)
	}
	return s, nil
}
