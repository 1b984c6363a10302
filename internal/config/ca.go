package config

import (
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// CA configures the internal certificate authority (docs/mtls.md): its
// trust domain, the enrolment listener where workloads obtain and renew
// X.509-SVIDs, and the lifetimes of what it signs. The CA always exists
// (auto-TLS takes its server certificates from it); only the enrolment
// listener is optional.
type CA struct {
	// TrustDomain is the SPIFFE trust domain name (SPIFFE-ID §2.1:
	// lowercase letters, digits, '.', '-' and '_'). Default: the issuer's
	// host when it is such a name.
	TrustDomain string `yaml:"trust_domain"`
	// Listen is the enrolment listener (HTTPS always, TLS 1.3); "" runs
	// none. Dev mode: 127.0.0.1:8443.
	Listen string `yaml:"listen"`
	// ExternalURL is the origin (https://host[:port]) at which clients
	// reach the enrolment listener: the base of the token endpoint's mTLS
	// alias (RFC 8705 §5, <external_url>/oauth2/token in discovery's
	// mtls_endpoint_aliases). Default: https://<ca.listen>, when its host
	// is concrete (not a wildcard address); with neither, no
	// certificate-bound tokens are offered (CAAliasOrigin).
	ExternalURL string `yaml:"external_url"`
	// Hosts are the DNS names and IP addresses in the enrolment server
	// certificate. Default: the listen host, localhost, 127.0.0.1, ::1.
	Hosts []string `yaml:"hosts"`
	// SVIDTTL is the default SVID lifetime (a registration may set its
	// own); MaxSVIDTTL caps every lifetime.
	SVIDTTL    Duration `yaml:"svid_ttl"`
	MaxSVIDTTL Duration `yaml:"max_svid_ttl"`
	// IntermediateTTL is the lifetime of an online intermediate.
	IntermediateTTL Duration `yaml:"intermediate_ttl"`
	// RotationPropagation is how long a new intermediate is in the trust
	// bundle before it signs.
	RotationPropagation Duration `yaml:"rotation_propagation"`
	// CRLValidity is nextUpdate - thisUpdate of the CRL.
	CRLValidity Duration `yaml:"crl_validity"`
	// JoinTokenTTL is the default join-token lifetime.
	JoinTokenTTL Duration `yaml:"join_token_ttl"`
}

// CA defaults and bounds. Security-relevant ones carry their reason.
const (
	// DefaultDevCAListen is the dev-mode enrolment listener.
	DefaultDevCAListen = "127.0.0.1:8443"
	// DefaultSVIDTTL: one hour, SPIRE's default X509-SVID lifetime; a
	// stolen SVID is useful for an hour at most even without revocation.
	DefaultSVIDTTL = time.Hour
	// MaxSVIDTTL: 24 hours is step-ca's default certificate lifetime and
	// the ceiling of issue 14 (short-lived certificates are the primary
	// revocation mechanism; the CRL covers the rest).
	MaxSVIDTTL = 24 * time.Hour
	// MinSVIDTTL: below ten seconds an agent renewing at half life would
	// be renewing continuously.
	MinSVIDTTL = 10 * time.Second
	// DefaultIntermediateTTL: 30 days, rotated automatically with a third
	// of its life left.
	DefaultIntermediateTTL = 720 * time.Hour
	// MaxIntermediateTTL: the root lives ten years; an intermediate never
	// outlives it.
	MaxIntermediateTTL = 87600 * time.Hour
	// DefaultRotationPropagation: ten minutes, more than the CRL validity
	// and an agent's bundle refresh, so every peer holds the new
	// intermediate before the first SVID it signs is presented.
	DefaultRotationPropagation = 10 * time.Minute
	// DefaultCRLValidity and MaxCRLValidity: a revoked SVID is refused by
	// peers within one CRL interval, which issue 14 bounds at ten minutes.
	DefaultCRLValidity = 10 * time.Minute
	MaxCRLValidity     = 10 * time.Minute
	MinCRLValidity     = 10 * time.Second
	// DefaultJoinTokenTTL and MaxJoinTokenTTL: a join token is a bearer
	// credential for a one-time enrolment; an hour bounds how long a leaked,
	// unused one is worth anything.
	DefaultJoinTokenTTL = time.Hour
	MaxJoinTokenTTL     = time.Hour
)

// defaultCA fills the CA's unset keys. Called by Defaults after the issuer
// and http.listen are known.
func (c *Config) defaultCA() {
	a := &c.CA
	if a.TrustDomain == "" {
		a.TrustDomain = defaultTrustDomain(c.Issuer)
	}
	if a.Listen == "" && c.Dev {
		a.Listen = DefaultDevCAListen
		// A main listener on a port the OS picks (tests, several dev
		// servers at once) gets an enrolment listener on one too.
		if _, port, err := net.SplitHostPort(c.HTTP.Listen); err == nil && port == "0" {
			a.Listen = "127.0.0.1:0"
		}
	}
	if a.Listen != "" && len(a.Hosts) == 0 {
		a.Hosts = caDefaultHosts(a.Listen)
	}
	setDur(&a.SVIDTTL, DefaultSVIDTTL)
	setDur(&a.MaxSVIDTTL, MaxSVIDTTL)
	setDur(&a.IntermediateTTL, DefaultIntermediateTTL)
	setDur(&a.RotationPropagation, DefaultRotationPropagation)
	setDur(&a.CRLValidity, DefaultCRLValidity)
	setDur(&a.JoinTokenTTL, DefaultJoinTokenTTL)
}

// CAAliasOrigin is the origin of the token endpoint's mTLS alias on the
// enrolment listener bound at addr (the listener's actual address, whose
// port may differ from ca.listen's ":0"): ca.external_url when set, else
// https://<ca.listen host>:<addr's port>; false when there is no
// enrolment listener, or ca.listen's host is a wildcard (no URL a client
// could use can be derived from it) and no ca.external_url is set.
func (a CA) CAAliasOrigin(addr string) (string, bool) {
	if a.Listen == "" {
		return "", false
	}
	if a.ExternalURL != "" {
		return strings.TrimSuffix(a.ExternalURL, "/"), true
	}
	host, _, err := net.SplitHostPort(a.Listen)
	if err != nil || caWildcardHost(host) {
		return "", false
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", false
	}
	return "https://" + net.JoinHostPort(host, port), true
}

// caWildcardHost reports whether a listen host binds every address.
func caWildcardHost(host string) bool {
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}

// defaultTrustDomain is the issuer's host when it is a trust domain name;
// "localhost" for a loopback IP address (dev mode, tests), because an IP
// address cannot be an X.509 URI name constraint (RFC 5280 §4.2.1.10) and
// so cannot be a trust domain here; else "" (Validate asks for one).
func defaultTrustDomain(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsLoopback() {
			return "localhost"
		}
		return ""
	}
	if td, err := spiffeid.TrustDomainFromString(host); err == nil && td.Name() == host {
		return host
	}
	return ""
}

// caDefaultHosts is the listen host (unless a wildcard) and the loopback
// names.
func caDefaultHosts(listen string) []string {
	var hosts []string
	if h, _, err := net.SplitHostPort(listen); err == nil && h != "" {
		if ip := net.ParseIP(h); ip == nil || !ip.IsUnspecified() {
			hosts = append(hosts, h)
		}
	}
	for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
		dup := false
		for _, x := range hosts {
			dup = dup || x == h
		}
		if !dup {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// TrustDomainID returns ca.trust_domain parsed (valid after Validate).
func (a CA) TrustDomainID() (spiffeid.TrustDomain, error) {
	return spiffeid.TrustDomainFromString(a.TrustDomain)
}
