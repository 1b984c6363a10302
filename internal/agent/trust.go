package agent

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/mtls"
)

// caPath is the path of the SPIFFE ID the enrolment listener's certificate
// carries (contract.md: spiffe://<td>/rampart/ca).
const caPath = "/rampart/ca"

// caID returns spiffe://<td>/rampart/ca.
func caID(td spiffeid.TrustDomain) spiffeid.ID {
	id, err := spiffeid.FromPath(td, caPath)
	if err != nil {
		panic(err) // a constant, valid path
	}
	return id
}

// uriSANID returns the SPIFFE ID in an authority's one URI SAN, in
// canonical form. (Leaves go through mtls.IDFromCert, which also enforces
// the X509-SVID leaf rules and refuses the bare trust domain ID.)
func uriSANID(c *x509.Certificate) (spiffeid.ID, error) {
	if len(c.URIs) != 1 {
		return spiffeid.ID{}, fmt.Errorf("certificate has %d URI SANs, an SVID has exactly one", len(c.URIs))
	}
	id, err := spiffeid.FromURI(c.URIs[0])
	if err != nil {
		return spiffeid.ID{}, err
	}
	if id.String() != c.URIs[0].String() {
		return spiffeid.ID{}, fmt.Errorf("URI SAN %q is not a canonical SPIFFE ID", c.URIs[0].String())
	}
	return id, nil
}

// authorityTD returns the trust domain an X.509 authority of a Rampart
// trust domain names in its URI SAN, spiffe://<td> (contract.md: the
// CA's own root and intermediates carry the trust domain ID). A root
// imported with `rampart ca init --import` may carry no URI SAN at all:
// it names no trust domain, and the zero TrustDomain is returned without
// error (the intermediates it signs, and the CA's leaf, still name it).
func authorityTD(c *x509.Certificate) (spiffeid.TrustDomain, error) {
	if !c.IsCA || !c.BasicConstraintsValid {
		return spiffeid.TrustDomain{}, errors.New("not a CA certificate")
	}
	if len(c.URIs) == 0 {
		return spiffeid.TrustDomain{}, nil
	}
	id, err := uriSANID(c)
	if err != nil {
		return spiffeid.TrustDomain{}, err
	}
	if id.Path() != "" {
		return spiffeid.TrustDomain{}, fmt.Errorf("authority names %s, not a trust domain ID", id)
	}
	return id.TrustDomain(), nil
}

// bundleTD returns the one trust domain the authorities of a bundle name
// (those that name none, an imported root, are passed over); a bundle
// where none names one, or two differ, is refused.
func bundleTD(bundle []*x509.Certificate) (spiffeid.TrustDomain, error) {
	var td spiffeid.TrustDomain
	for i, c := range bundle {
		t, err := authorityTD(c)
		if err != nil {
			return spiffeid.TrustDomain{}, fmt.Errorf("bundle certificate %d: %w", i, err)
		}
		if t.IsZero() {
			continue
		}
		if !td.IsZero() && t != td {
			return spiffeid.TrustDomain{}, fmt.Errorf("bundle mixes trust domains %s and %s", td, t)
		}
		td = t
	}
	if td.IsZero() {
		return spiffeid.TrustDomain{}, errUnnamedBundle
	}
	return td, nil
}

// errUnnamedBundle: no authority of a bundle names its trust domain. The
// CA's answers always name it (its intermediates do); a --bundle-file
// holding only an imported root does not, and the CA's leaf names it at
// first contact instead.
var errUnnamedBundle = errors.New("no authority of the bundle names a trust domain (spiffe://<td> URI SAN)")

// anchors is what the agent trusts on first contact with the CA: the root
// pinned by the join token's third part (sha256 of its DER, kubeadm's
// discovery-token-ca-cert-hash pattern) and/or the authorities of a bundle
// file. Either alone suffices; with both, both must hold.
type anchors struct {
	pin    []byte              // sha256 of the root's DER, or nil
	bundle []*x509.Certificate // from --bundle-file (or the out dir), or nil
}

// verifyFirstContact checks the enrolment server's certificate chain
// (as sent: [leaf, intermediate, root]) against the anchors and
// returns the trust domain: the chain must verify to a pinned or bundled
// authority, for server auth, at now, and the leaf must be the CA's SVID
// spiffe://<td>/rampart/ca of that authority's trust domain. A server
// presenting another root is refused: this is the defence against a
// man in the middle on first contact.
func verifyFirstContact(certs []*x509.Certificate, a anchors, now time.Time) (spiffeid.TrustDomain, error) {
	if len(certs) == 0 {
		return spiffeid.TrustDomain{}, errors.New("agent: the CA sent no certificate")
	}
	roots := x509.NewCertPool()
	var td spiffeid.TrustDomain
	if a.pin != nil {
		root := pinnedRoot(certs, a.pin)
		if root == nil {
			return spiffeid.TrustDomain{}, errors.New("agent: the CA's chain does not hold the root pinned by the join token (another CA, or a man in the middle)")
		}
		t, err := authorityTD(root)
		if err != nil {
			return spiffeid.TrustDomain{}, fmt.Errorf("agent: the pinned root: %w", err)
		}
		td = t
		roots.AddCert(root)
	}
	if a.bundle != nil {
		t, err := bundleTD(a.bundle)
		if errors.Is(err, errUnnamedBundle) {
			err = nil
		}
		if err != nil {
			return spiffeid.TrustDomain{}, fmt.Errorf("agent: bundle: %w", err)
		}
		if !td.IsZero() && !t.IsZero() && t != td {
			return spiffeid.TrustDomain{}, fmt.Errorf("agent: the bundle is of %s, the pinned root of %s", t, td)
		}
		if !t.IsZero() {
			td = t
		}
		if a.pin == nil {
			for _, c := range a.bundle {
				roots.AddCert(c)
			}
		}
	}
	if a.pin == nil && a.bundle == nil {
		return spiffeid.TrustDomain{}, errors.New("agent: nothing to trust the CA with (no pinned root, no bundle)")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	chains, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		return spiffeid.TrustDomain{}, fmt.Errorf("agent: the CA's certificate does not verify to the trusted root: %w", err)
	}
	if a.pin != nil && a.bundle != nil && !chainEndsIn(chains, a.bundle) {
		return spiffeid.TrustDomain{}, errors.New("agent: the pinned root is not in the bundle file")
	}
	id, err := mtls.IDFromCert(certs[0])
	if err != nil {
		return spiffeid.TrustDomain{}, fmt.Errorf("agent: the CA's certificate: %w", err)
	}
	if td.IsZero() {
		// A pinned root that names no trust domain (imported): the
		// verified chain's leaf names it, and must be the CA's own ID.
		td = id.TrustDomain()
	}
	if id != caID(td) {
		return spiffeid.TrustDomain{}, fmt.Errorf("agent: the server is %s, not the CA %s", id, caID(td))
	}
	return td, nil
}

// pinnedRoot returns the self-signed CA certificate among certs whose
// DER hashes to pin, or nil.
func pinnedRoot(certs []*x509.Certificate, pin []byte) *x509.Certificate {
	for _, c := range certs {
		sum := sha256.Sum256(c.Raw)
		if bytes.Equal(sum[:], pin) && c.IsCA && c.CheckSignatureFrom(c) == nil {
			return c
		}
	}
	return nil
}

// chainEndsIn reports whether some chain ends in a certificate of bundle.
func chainEndsIn(chains [][]*x509.Certificate, bundle []*x509.Certificate) bool {
	for _, ch := range chains {
		last := ch[len(ch)-1]
		for _, b := range bundle {
			if last.Equal(b) {
				return true
			}
		}
	}
	return false
}
