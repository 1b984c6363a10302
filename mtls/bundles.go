package mtls

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Bundles gives the X.509 authorities (roots and intermediates) of a trust
// domain. A leaf is verified only against the authorities of its own trust
// domain: bundles of different trust domains are never pooled, so a CA of
// one domain cannot vouch for an ID of another.
type Bundles interface {
	// X509Authorities returns the authorities of td, and false when td is
	// unknown.
	X509Authorities(td spiffeid.TrustDomain) ([]*x509.Certificate, bool)
}

// bundleMap is an immutable set of bundles keyed by trust domain.
type bundleMap map[spiffeid.TrustDomain][]*x509.Certificate

func (m bundleMap) X509Authorities(td spiffeid.TrustDomain) ([]*x509.Certificate, bool) {
	a, ok := m[td]
	if !ok || len(a) == 0 {
		return nil, false
	}
	return a, true
}

// copyBundles copies m so callers cannot change a source's bundles after
// handing them over.
func copyBundles(m map[spiffeid.TrustDomain][]*x509.Certificate) bundleMap {
	out := make(bundleMap, len(m))
	for td, certs := range m {
		out[td] = append([]*x509.Certificate(nil), certs...)
	}
	return out
}

// maxBundleCerts bounds the authorities of one trust domain: a few roots
// and intermediates during rotations, never hundreds.
const maxBundleCerts = 64

// parseBundlePEM parses a PEM bundle of X.509 authorities: at least one
// certificate, every block a CERTIFICATE, every certificate a CA (an
// authority that cannot sign certificates has no place in a bundle).
func parseBundlePEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("mtls: bundle: unexpected PEM block %q", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("mtls: bundle: %w", err)
		}
		if !c.IsCA {
			return nil, errors.New("mtls: bundle: a certificate is not a CA")
		}
		if certs = append(certs, c); len(certs) > maxBundleCerts {
			return nil, errors.New("mtls: bundle: too many certificates")
		}
	}
	if len(certs) == 0 {
		return nil, errors.New("mtls: bundle: no certificate")
	}
	return certs, nil
}
