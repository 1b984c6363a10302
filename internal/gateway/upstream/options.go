package upstream

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/jwtauth"
	"github.com/rampart-auth/rampart/mtls"
)

// TLS is a route's upstream TLS: CAFile (PEM roots; empty: the system
// roots), CertFile and KeyFile (the client certificate, both or neither)
// and ServerName (the name verified in the upstream's certificate instead
// of the URL's host). New reads the files; Validate does not. SPIFFEID,
// exclusive with the others, is service mTLS instead: the client
// certificate is Options.SPIFFE's SVID and the upstream must present an
// X509-SVID of exactly that ID, verified with the source's bundle.
type TLS struct {
	CAFile, CertFile, KeyFile, ServerName string
	SPIFFEID                              string
}

// Health configures active health checks: every Interval, a GET of Path
// (relative to the host, not to the base path) on each target with
// Timeout; a 2xx answer is a pass. Unhealthy consecutive failures take a
// target out, Healthy consecutive passes bring it back. Path "" means no
// active checks. Zero durations and counts take the defaults.
type Health struct {
	Path               string
	Interval, Timeout  time.Duration
	Healthy, Unhealthy int
}

// Ejection configures passive outlier ejection (as Envoy's
// consecutive_gateway_failure): Consecutive transport errors or 502/503/504
// answers in a row eject a target for BaseTime, doubled on each ejection
// that follows without a quiet MaxTime in between, at most MaxTime.
// Consecutive 0 takes the default; a negative Consecutive turns passive
// ejection off.
type Ejection struct {
	Consecutive       int
	BaseTime, MaxTime time.Duration
}

// MaxTargets is the most upstreams a pool takes: the Sharder's limit
// (gateway.MaxUpstreams, a 64-bit shard set), and Pick's set of up
// targets is one 64-bit word.
const MaxTargets = 64

// Sharder confines each tenant to its shuffle shard: the index of an up
// member of tenant's shard (healthy is asked about members only), or an
// error when none is up, and never another index. *gateway.Sharder is
// the implementation; the interface lives here because package gateway
// imports this one. N, when the Sharder has it, lets Validate check the
// Sharder was built over the pool's URLs.
type Sharder interface {
	ShardFor(tenant string, healthy func(i int) bool) (int, error)
}

// Options configures one route's Pool.
type Options struct {
	Route    string   // for logs and metrics
	URLs     []string // http(s)://host[:port][/base-path]
	TLS      TLS
	Health   Health
	Ejection Ejection
	// Shard, when set, confines each tenant to its shard of URLs
	// (gateway.NewSharder over the same URLs, in the same order).
	Shard Sharder

	// SPIFFE is the gateway's own SVID and trust bundles, for
	// TLS.SPIFFEID (required then; unused otherwise).
	SPIFFE mtls.Source

	MaxIdleConnsPerHost   int
	ResponseHeaderTimeout time.Duration
	DialTimeout           time.Duration

	Logger *slog.Logger
	Clock  func() time.Time
}

// Defaults applied where an option is zero.
const (
	DefaultHealthInterval        = 10 * time.Second
	DefaultHealthTimeout         = 2 * time.Second
	DefaultHealthyThreshold      = 2
	DefaultUnhealthyThreshold    = 3
	DefaultEjectionConsecutive   = 5
	DefaultEjectionBaseTime      = 30 * time.Second
	DefaultEjectionMaxTime       = 5 * time.Minute
	DefaultMaxIdleConnsPerHost   = 256
	DefaultResponseHeaderTimeout = 30 * time.Second
	DefaultDialTimeout           = 5 * time.Second
)

// maxURLLen bounds one upstream URL; an origin is at most about 300 bytes
// (jwtauth.NormalizeOrigin) and a base path needs far less than the rest.
const maxURLLen = 2048

// withDefaults returns o with every zero option replaced by its default.
func withDefaults(o Options) Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	def(&o.Health.Interval, DefaultHealthInterval)
	def(&o.Health.Timeout, DefaultHealthTimeout)
	defInt(&o.Health.Healthy, DefaultHealthyThreshold)
	defInt(&o.Health.Unhealthy, DefaultUnhealthyThreshold)
	defInt(&o.Ejection.Consecutive, DefaultEjectionConsecutive)
	def(&o.Ejection.BaseTime, DefaultEjectionBaseTime)
	def(&o.Ejection.MaxTime, DefaultEjectionMaxTime)
	defInt(&o.MaxIdleConnsPerHost, DefaultMaxIdleConnsPerHost)
	def(&o.ResponseHeaderTimeout, DefaultResponseHeaderTimeout)
	def(&o.DialTimeout, DefaultDialTimeout)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return o
}

// Validate checks o without touching files or the network, so config
// validation can call it: every URL, no duplicates, the Sharder's size,
// the health and ejection numbers, the TLS fields' coherence.
// Every problem is reported, each saying what to change.
func Validate(o Options) error {
	o = withDefaults(o)
	prefix := "upstream: route " + strconv.Quote(o.Route) + ": "
	var errs []error
	add := func(format string, a ...any) {
		errs = append(errs, errors.New(prefix+fmt.Sprintf(format, a...)))
	}
	https := validateURLs(o.URLs, add)
	validateShard(o, add)
	validateHealth(o.Health, add)
	validateEjection(o.Ejection, add)
	validateTLS(o.TLS, https, add)
	if o.MaxIdleConnsPerHost < 0 || o.ResponseHeaderTimeout < 0 || o.DialTimeout < 0 {
		add("max idle connections and timeouts must not be negative (0 takes the default)")
	}
	return errors.Join(errs...)
}

// validateURLs checks every URL and reports whether any is https.
func validateURLs(urls []string, add func(string, ...any)) (https bool) {
	switch {
	case len(urls) == 0:
		add("no upstream URLs: list at least one")
	case len(urls) > MaxTargets:
		add("%d upstream URLs: at most %d", len(urls), MaxTargets)
	}
	seen := make(map[string]int, len(urls))
	for i, raw := range urls {
		t, err := parseTarget(raw)
		if err != nil {
			add("urls[%d] %q: %v", i, raw, err)
			continue
		}
		if j, dup := seen[t.URL.String()]; dup {
			add("urls[%d] %q: the same upstream as urls[%d]; list each once", i, raw, j)
			continue
		}
		seen[t.URL.String()] = i
		https = https || t.URL.Scheme == "https"
	}
	return https
}

func validateShard(o Options, add func(string, ...any)) {
	if n, ok := o.Shard.(interface{ N() int }); ok && n.N() != len(o.URLs) {
		add("the shard set was built over %d upstreams, the route lists %d", n.N(), len(o.URLs))
	}
}

func validateHealth(h Health, add func(string, ...any)) {
	if h.Path != "" {
		if err := checkHealthPath(h.Path); err != nil {
			add("health path %q: %v", h.Path, err)
		}
	}
	switch {
	case h.Interval < 0 || h.Timeout < 0 || h.Healthy < 0 || h.Unhealthy < 0:
		add("health interval, timeout and thresholds must not be negative (0 takes the default)")
	case h.Timeout > h.Interval:
		add("health timeout %s is longer than the interval %s: a check must end before the next starts", h.Timeout, h.Interval)
	}
}

func validateEjection(e Ejection, add func(string, ...any)) {
	switch {
	case e.BaseTime < 0 || e.MaxTime < 0:
		add("ejection times must not be negative (0 takes the default)")
	case e.MaxTime < e.BaseTime:
		add("ejection max time %s is shorter than the base time %s", e.MaxTime, e.BaseTime)
	}
}

func validateTLS(t TLS, https bool, add func(string, ...any)) {
	if t != (TLS{}) && !https {
		add("tls is set but no upstream URL is https: use https:// or remove tls")
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		add("tls cert_file and key_file go together: set both or neither")
	}
	if t.ServerName != "" {
		if _, err := jwtauth.NormalizeOrigin("https://" + t.ServerName); err != nil || strings.Contains(t.ServerName, ":") {
			add("tls server_name %q: want a DNS name or IP address, without a port", t.ServerName)
		}
	}
	if t.SPIFFEID == "" {
		return
	}
	if id, err := spiffeid.FromString(t.SPIFFEID); err != nil || id.String() != t.SPIFFEID || id.Path() == "" {
		add("tls spiffe_id %q: want a canonical workload SPIFFE ID, like spiffe://example.test/svc/billing", t.SPIFFEID)
	}
	if t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" {
		add("tls spiffe_id excludes ca_file, cert_file, key_file and server_name")
	}
}

// checkHealthPath accepts what the probe can send as written: an
// absolute path, with a query if need be, of at most 1024 visible ASCII
// characters and no fragment (the config's own rule for health_check.path).
func checkHealthPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return errors.New("must start with /")
	}
	if len(p) > 1024 || strings.ContainsRune(p, '#') ||
		strings.IndexFunc(p, func(r rune) bool { return r <= 0x20 || r >= 0x7f }) >= 0 {
		return errors.New("at most 1024 visible ASCII characters, no fragment")
	}
	if _, err := url.ParseRequestURI(p); err != nil {
		return errors.New("not a request path")
	}
	return nil
}

// parseTarget checks one upstream URL and returns its normalized Target:
// scheme and host in lower case, the default port dropped, an IPv6
// literal in RFC 5952 form (all as jwtauth.NormalizeOrigin, so Origin is
// what the identity assertion's aud carries), and the base path without a
// trailing "/". Anything that is not a plain http(s)://host[:port][/path]
// is refused rather than guessed: user information (credentials in
// config, and the "user@host" confusion of CVE-2017-7233-style parser
// differentials), a query or fragment, percent-encoding, dot or empty
// segments, and characters outside RFC 3986's unreserved set in the path.
func parseTarget(raw string) (*Target, error) {
	if len(raw) > maxURLLen {
		return nil, fmt.Errorf("longer than %d bytes", maxURLLen)
	}
	if strings.ContainsAny(raw, "?#") {
		return nil, errors.New("no query or fragment allowed")
	}
	if strings.ContainsAny(raw, "%\\") {
		return nil, errors.New("no percent-encoding or backslash allowed")
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, errors.New("want http(s)://host[:port][/base-path]")
	}
	authority, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	if strings.Contains(authority, "@") {
		return nil, errors.New("no user information allowed (put credentials elsewhere)")
	}
	origin, err := jwtauth.NormalizeOrigin(scheme + "://" + authority)
	if err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "jwtauth: "))
	}
	path = strings.TrimSuffix(path, "/")
	if path != "" {
		if err := checkPath(path); err != nil {
			return nil, fmt.Errorf("base path: %w", err)
		}
	}
	u, err := url.Parse(origin + path)
	if err != nil { // cannot happen for the checked form; refuse rather than guess
		return nil, errors.New("not a URL")
	}
	return &Target{URL: u, Origin: origin}, nil
}

// checkPath checks "/seg/seg..." as parseTarget documents.
func checkPath(p string) error {
	for _, seg := range strings.Split(p[1:], "/") {
		switch seg {
		case "":
			return errors.New("no empty segment (//) allowed")
		case ".", "..":
			return errors.New("no . or .. segment allowed")
		}
		for i := 0; i < len(seg); i++ {
			if !unreserved(seg[i]) {
				return errors.New("only letters, digits, '-', '.', '_', '~' and '/' allowed")
			}
		}
	}
	return nil
}

// unreserved reports whether c is in RFC 3986 §2.3's unreserved set.
func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
