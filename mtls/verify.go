package mtls

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// maxChainLen bounds the certificates a peer may send: leaf,
// intermediate and, at most, a few more during a rotation.
const maxChainLen = 8

// VerifySVID verifies an X509-SVID chain as received in a TLS handshake
// (leaf first) and returns the leaf's SPIFFE ID and the verified chain
// (leaf to authority). The leaf must pass IDFromCert; its trust domain
// picks the bundle, and only that domain's authorities are roots (bundles
// are never pooled across trust domains); the rest of the chain are
// intermediates; crypto/x509 checks signatures, validity at now, path
// length and the authorities' name constraints (so a URI outside a
// root's PermittedURIDomains is refused); then every certificate of the
// verified chains is looked up in r, and one revoked certificate refuses
// the whole chain. r may be nil for no revocation check. Any extended key
// usage is accepted; the tls.Config builders require clientAuth or
// serverAuth as the side demands.
func VerifySVID(rawCerts [][]byte, b Bundles, r Revocations, now time.Time) (spiffeid.ID, []*x509.Certificate, error) {
	if len(rawCerts) == 0 {
		return spiffeid.ID{}, nil, errors.New("mtls: no certificate")
	}
	if len(rawCerts) > maxChainLen {
		return spiffeid.ID{}, nil, errors.New("mtls: certificate chain too long")
	}
	certs := make([]*x509.Certificate, len(rawCerts))
	for i, raw := range rawCerts {
		c, err := x509.ParseCertificate(raw)
		if err != nil {
			return spiffeid.ID{}, nil, fmt.Errorf("mtls: certificate %d: %w", i, err)
		}
		certs[i] = c
	}
	return verifyCerts(certs, b, r, now, x509.ExtKeyUsageAny)
}

// verifyCerts is VerifySVID on parsed certificates, requiring usage.
func verifyCerts(certs []*x509.Certificate, b Bundles, r Revocations, now time.Time, usage x509.ExtKeyUsage) (spiffeid.ID, []*x509.Certificate, error) {
	if len(certs) == 0 {
		return spiffeid.ID{}, nil, errors.New("mtls: no certificate")
	}
	if len(certs) > maxChainLen {
		return spiffeid.ID{}, nil, errors.New("mtls: certificate chain too long")
	}
	leaf := certs[0]
	id, err := IDFromCert(leaf)
	if err != nil {
		return spiffeid.ID{}, nil, err
	}
	td := id.TrustDomain()
	if b == nil {
		return spiffeid.ID{}, nil, errors.New("mtls: no trust bundles")
	}
	authorities, ok := b.X509Authorities(td)
	if !ok || len(authorities) == 0 {
		return spiffeid.ID{}, nil, fmt.Errorf("mtls: no trust bundle for trust domain %q", td.Name())
	}
	// Every authority of the bundle is a trust anchor (SPIFFE Trust
	// Domain and Bundle §4.1): the root and each published intermediate.
	var roots *x509.CertPool
	if pp, ok := b.(poolProvider); ok {
		roots, _ = pp.rootPool(td)
	}
	if roots == nil {
		roots = x509.NewCertPool()
		for _, a := range authorities {
			roots.AddCert(a)
		}
	}
	// The peer's intermediates, less those already anchors: an
	// intermediate in the bundle ends the chain there, and offering it
	// again only makes crypto/x509 build (and sign-check) a second,
	// longer chain. The contract gives intermediates the root's name
	// constraints, so the anchor's own constraints bind the leaf.
	inters := x509.NewCertPool()
	for _, c := range certs[1:] {
		if !containsCert(authorities, c) {
			inters.AddCert(c)
		}
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inters,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{usage},
	})
	if err != nil {
		return spiffeid.ID{}, nil, fmt.Errorf("mtls: X509-SVID of %s does not verify: %w", id, err)
	}
	if err := checkRevoked(r, td, chains); err != nil {
		return spiffeid.ID{}, nil, err
	}
	return id, chains[0], nil
}

// checkRevoked refuses when any certificate of any verified chain is
// revoked: whichever path crypto/x509 found, a revoked intermediate on it
// revokes the leaf.
func checkRevoked(r Revocations, td spiffeid.TrustDomain, chains [][]*x509.Certificate) error {
	if r == nil {
		return nil
	}
	for _, chain := range chains {
		if cc, ok := r.(chainChecker); ok {
			if err := cc.checkChain(td, chain); err != nil {
				return err
			}
			continue
		}
		for _, c := range chain {
			if r.IsRevoked(td, c) {
				return fmt.Errorf("mtls: certificate serial %x of trust domain %q is revoked", c.SerialNumber, td.Name())
			}
		}
	}
	return nil
}

// poolProvider is implemented by this package's sources: the bundle of a
// trust domain as a pool built once per bundle change.
type poolProvider interface {
	rootPool(td spiffeid.TrustDomain) (*x509.CertPool, bool)
}

func containsCert(certs []*x509.Certificate, c *x509.Certificate) bool {
	for _, a := range certs {
		if a.Equal(c) {
			return true
		}
	}
	return false
}
