package app

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/ca"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/mtls"
)

// svidBinder verifies the client certificate of a token request on the
// enrolment listener (the token endpoint's mTLS alias, RFC 8705 §5) as an
// X509-SVID of the CA's trust domain: mtls.VerifySVID against the CA's
// current trust bundle (the root and every published intermediate) and its
// CRL, so a revoked SVID gets no certificate-bound token. crypto/tls on
// that listener only requested the certificate (tls.RequestClientCert).
type svidBinder struct {
	ca  *ca.Authority
	now func() time.Time

	mu      sync.Mutex
	crlDER  []byte              // the CRL the revoked set was read from
	revoked map[string]struct{} // its serials (big.Int.String)
}

var _ oauth.CertBinder = (*svidBinder)(nil)

// errNotClientSVID: an SVID without clientAuth cannot be a TLS client's.
var errNotClientSVID = errors.New("app: the client certificate is not for TLS client authentication (extended key usage clientAuth)")

// Thumbprint implements oauth.CertBinder.
func (b *svidBinder) Thumbprint(r *http.Request) (string, bool, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return "", false, nil
	}
	peer := r.TLS.PeerCertificates
	raw := make([][]byte, len(peer))
	for i, c := range peer {
		raw[i] = c.Raw
	}
	revs, err := b.revocations(r)
	if err != nil {
		// Fail closed: without the CRL a revoked SVID could be bound.
		return "", true, err
	}
	if _, _, err := mtls.VerifySVID(raw, caBundle{b.ca}, revs, b.now()); err != nil {
		return "", true, err
	}
	// VerifySVID accepts any extended key usage; a token request is a TLS
	// client's (RFC 5280 §4.2.1.12; the CA's SVIDs carry both).
	if !slices.Contains(peer[0].ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		return "", true, errNotClientSVID
	}
	return mtls.CertThumbprint(peer[0].Raw), true, nil
}

// revocations returns the CA's current CRL as mtls.Revocations, parsed
// once per CRL the CA serves (it changes on revocation and every half
// validity), its signature checked against the root.
func (b *svidBinder) revocations(r *http.Request) (mtls.Revocations, error) {
	der, err := b.ca.CRL(r.Context())
	if err != nil {
		return nil, fmt.Errorf("app: the CA's CRL: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.revoked == nil || !bytes.Equal(der, b.crlDER) {
		rl, err := x509.ParseRevocationList(der)
		if err != nil {
			return nil, fmt.Errorf("app: the CA's CRL: %w", err)
		}
		if err := rl.CheckSignatureFrom(b.ca.Root()); err != nil {
			return nil, fmt.Errorf("app: the CA's CRL: %w", err)
		}
		set := make(map[string]struct{}, len(rl.RevokedCertificateEntries))
		for _, e := range rl.RevokedCertificateEntries {
			set[e.SerialNumber.String()] = struct{}{}
		}
		b.crlDER, b.revoked = bytes.Clone(der), set
	}
	return revokedSet{td: b.ca.TrustDomain(), serials: b.revoked}, nil
}

// caBundle is the CA's trust bundle as mtls.Bundles: its own trust domain
// only.
type caBundle struct{ ca *ca.Authority }

func (c caBundle) X509Authorities(td spiffeid.TrustDomain) ([]*x509.Certificate, bool) {
	if td != c.ca.TrustDomain() {
		return nil, false
	}
	return c.ca.Authorities(), true
}

// revokedSet is one CRL's serials as mtls.Revocations (immutable).
type revokedSet struct {
	td      spiffeid.TrustDomain
	serials map[string]struct{}
}

func (s revokedSet) IsRevoked(td spiffeid.TrustDomain, cert *x509.Certificate) bool {
	if td != s.td {
		return false
	}
	_, ok := s.serials[cert.SerialNumber.String()]
	return ok
}

// mtlsAlias is the token endpoint's mTLS alias on the enrolment listener,
// nil when there is none: no ca.listen, or a wildcard ca.listen without
// ca.external_url (config.CA.CAAliasOrigin; Validate refuses a client that
// requires certificate-bound tokens then). The URL uses the listener's
// bound port, known once it started (before anything serves).
func (s *server) mtlsAlias() *oauth.MTLSAlias {
	c := s.cfg.CA
	if _, ok := c.CAAliasOrigin(c.Listen); !ok {
		if c.Listen != "" {
			s.logger.Info("no certificate-bound access tokens: ca.listen is a wildcard address and ca.external_url is not set", "ca.listen", c.Listen)
		}
		return nil
	}
	url := func() string {
		addr := c.Listen
		if s.caListen != nil && s.caListen.Addr() != nil {
			addr = s.caListen.Addr().String()
		}
		origin, _ := c.CAAliasOrigin(addr)
		return origin + oauth.PathToken
	}
	return &oauth.MTLSAlias{TokenEndpoint: url, Binder: &svidBinder{ca: s.ca, now: time.Now}}
}
