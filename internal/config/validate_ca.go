package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// validateCA checks the ca section.
func (c *Config) validateCA(bad func(string, string, ...any)) {
	a := c.CA
	switch {
	case a.TrustDomain == "":
		bad("ca.trust_domain", "cannot be derived from the issuer %q (its host is not a SPIFFE trust domain name, or is an IP address); set it, e.g. ca.trust_domain: example.org", c.Issuer)
	case net.ParseIP(a.TrustDomain) != nil:
		bad("ca.trust_domain", "%q is an IP address; a trust domain is a name (X.509 name constraints cannot hold an IP address as a URI domain, RFC 5280 §4.2.1.10), e.g. example.org", a.TrustDomain)
	case strings.Contains(a.TrustDomain, ":"):
		bad("ca.trust_domain", "%q is not a trust domain name; write the bare name without spiffe:// (e.g. example.org)", a.TrustDomain)
	default:
		if td, err := spiffeid.TrustDomainFromString(a.TrustDomain); err != nil || td.Name() != a.TrustDomain {
			bad("ca.trust_domain", "%q is not a SPIFFE trust domain name; use lowercase letters, digits, '.', '-' and '_' only (SPIFFE-ID §2.1), e.g. example.org", a.TrustDomain)
		}
	}
	if a.Listen != "" {
		if _, port, err := net.SplitHostPort(a.Listen); err != nil || port == "" {
			bad("ca.listen", "%q is not host:port; write it like 0.0.0.0:8443, or leave it empty for no enrolment listener", a.Listen)
		} else if port != "0" {
			if a.Listen == c.HTTP.Listen {
				bad("ca.listen", "%q is http.listen too; the enrolment listener needs its own address", a.Listen)
			}
			if c.Gateway != nil && a.Listen == c.Gateway.Listen {
				bad("ca.listen", "%q is gateway.listen too; the enrolment listener needs its own address", a.Listen)
			}
		}
	} else if len(a.Hosts) > 0 {
		bad("ca.hosts", "names the enrolment server certificate, but ca.listen is empty (no enrolment listener); set ca.listen or remove ca.hosts")
	}
	c.validateCAExternalURL(bad)
	for i, h := range a.Hosts {
		if !validCertHost(h) {
			bad("ca.hosts", "entry %d %q is neither an IP address nor a DNS name (letters, digits, '-' and '.'; no wildcards)", i, h)
		}
	}

	svid, maxSVID := a.SVIDTTL.D(), a.MaxSVIDTTL.D()
	if maxSVID < MinSVIDTTL || maxSVID > MaxSVIDTTL {
		bad("ca.max_svid_ttl", "%s is out of range; use %s to %s (short-lived SVIDs are the first line of revocation)", maxSVID, MinSVIDTTL, MaxSVIDTTL)
	}
	if svid < MinSVIDTTL || svid > maxSVID {
		bad("ca.svid_ttl", "%s is out of range; use %s up to ca.max_svid_ttl (%s)", svid, MinSVIDTTL, maxSVID)
	}
	it, prop := a.IntermediateTTL.D(), a.RotationPropagation.D()
	switch {
	case it > MaxIntermediateTTL:
		bad("ca.intermediate_ttl", "%s is longer than the root's ten years; use at most %s", it, MaxIntermediateTTL)
	case it < 3*maxSVID:
		// The CA's own rule (ca.Options): an intermediate rotates with a
		// third of its life left, and that third must still cover the
		// longest SVID it signed.
		bad("ca.intermediate_ttl", "%s must be at least three times ca.max_svid_ttl (%s): an intermediate must outlive the SVIDs it signs through its rotation", it, maxSVID)
	}
	// The intermediate rotates with a third of its life left; the old one
	// must still sign for the whole propagation of its successor.
	if prop < 0 {
		bad("ca.rotation_propagation", "%s is negative; use 0s or more (default 10m)", prop)
	} else if it > 0 && prop >= it/3 {
		bad("ca.rotation_propagation", "%s must be shorter than a third of ca.intermediate_ttl (%s), the life left when the intermediate rotates", prop, it/3)
	}
	if v := a.CRLValidity.D(); v < MinCRLValidity || v > MaxCRLValidity {
		bad("ca.crl_validity", "%s is out of range; use %s to %s (a revoked SVID is refused by peers within one CRL interval)", v, MinCRLValidity, MaxCRLValidity)
	}
	if v := a.JoinTokenTTL.D(); v < MinSVIDTTL || v > MaxJoinTokenTTL {
		bad("ca.join_token_ttl", "%s is out of range; use %s to %s (a join token is a bearer credential)", v, MinSVIDTTL, MaxJoinTokenTTL)
	}
}

// validateCAExternalURL checks ca.external_url (an https origin, only with
// an enrolment listener) and that a client requiring certificate-bound
// tokens has an mTLS alias to get them from.
func (c *Config) validateCAExternalURL(bad func(string, string, ...any)) {
	const key = "ca.external_url"
	a := c.CA
	if a.ExternalURL != "" {
		u, err := url.Parse(a.ExternalURL)
		switch {
		case a.Listen == "":
			bad(key, "is set, but ca.listen is empty (no enrolment listener); set ca.listen or remove ca.external_url")
		case err != nil || !u.IsAbs() || u.Hostname() == "" || u.Opaque != "":
			bad(key, "%q is not an absolute URL; write the origin clients reach ca.listen at, like https://ca.example.com:8443", redactURL(a.ExternalURL))
		case u.Scheme != "https":
			// The enrolment listener speaks only HTTPS; the alias is where
			// clients present certificates (RFC 8705 §5).
			bad(key, "%q must use https (the enrolment listener speaks only HTTPS)", redactURL(a.ExternalURL))
		case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(a.ExternalURL, "#") || u.Path != "" && u.Path != "/":
			bad(key, "%q must be an origin only: https://host[:port], without path, query, fragment or user info", redactURL(a.ExternalURL))
		}
	}
	_, alias := a.CAAliasOrigin(a.Listen)
	for i, cl := range c.Clients {
		if !cl.CertificateBoundAccessTokens || alias {
			continue
		}
		k := fmt.Sprintf("clients[%d] (%s).certificate_bound_access_tokens", i, cl.ID)
		if a.Listen == "" {
			bad(k, "needs the token endpoint's mTLS alias on the enrolment listener, but ca.listen is empty; set ca.listen (and ca.external_url)")
		} else {
			bad(k, "needs the token endpoint's mTLS alias, whose URL cannot be derived from ca.listen %q (a wildcard address); set ca.external_url to the origin clients reach it at, like https://ca.example.com:8443", a.Listen)
		}
	}
}

// validCertHost reports whether h can be a SAN of a server certificate: an
// IP address or a DNS name of letter-digit-hyphen labels.
func validCertHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if h == "" || len(h) > 253 || strings.HasPrefix(h, ".") || strings.HasSuffix(h, ".") {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			ch := label[i]
			if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-') {
				return false
			}
		}
	}
	return true
}
