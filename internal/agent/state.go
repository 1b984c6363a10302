package agent

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// svid is the one identity the agent holds: its chain, its key, the
// bundle and CRL that came with it or were fetched since. A value is
// immutable once built; an update builds a new one.
type svid struct {
	id        spiffeid.ID
	td        spiffeid.TrustDomain
	cert      *tls.Certificate // chain + key, Leaf set
	chainPEM  []byte
	keyPEM    []byte // PKCS#8
	bundle    []*x509.Certificate
	bundlePEM []byte
	crl       *x509.RevocationList
	crlPEM    []byte
	// start is when the lifetime counts from for the renewal schedule:
	// the later of NotBefore and the moment the agent obtained it, since
	// the CA backdates NotBefore by a minute (contract.md) and a 10 s SVID
	// must not look half-used on arrival.
	start time.Time
}

// notAfter returns the leaf's NotAfter.
func (s *svid) notAfter() time.Time { return s.cert.Leaf.NotAfter }

// valid reports whether the leaf is within its validity at now.
func (s *svid) valid(now time.Time) bool {
	return !now.Before(s.cert.Leaf.NotBefore) && now.Before(s.cert.Leaf.NotAfter)
}

// lifetime returns the span the renewal schedule divides.
func (s *svid) lifetime() time.Duration { return s.notAfter().Sub(s.start) }

// withBundle returns a copy with a new bundle (and its PEM).
func (s *svid) withBundle(bundle []*x509.Certificate) *svid {
	c := *s
	c.bundle, c.bundlePEM = bundle, encodeCerts(bundle)
	return &c
}

// withCRL returns a copy with a new CRL.
func (s *svid) withCRL(crl *x509.RevocationList) *svid {
	c := *s
	c.crl, c.crlPEM = crl, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl.Raw})
	return &c
}

// newSVID checks an enrolment answer against what the agent asked for and
// builds its state: the leaf carries the agent's public key (the key never
// left the agent), the chain verifies to the answer's bundle for client
// and server auth at now, the bundle is of trust domain td (the one the
// CA's certificate was verified in), the ID is the one requested (when
// one was) and a member of td, and the CRL is signed by an authority of
// the bundle. want may be the zero ID.
func newSVID(iss *issued, key crypto.Signer, keyPEM []byte, td spiffeid.TrustDomain, want spiffeid.ID, now time.Time) (*svid, error) {
	leaf := iss.chain[0]
	if !publicKeysEqual(leaf.PublicKey, key.Public()) {
		return nil, errors.New("agent: the SVID is not for the agent's key")
	}
	if !want.IsZero() && iss.id != want {
		return nil, fmt.Errorf("agent: asked for %s, the CA issued %s", want, iss.id)
	}
	if !iss.id.MemberOf(td) {
		return nil, fmt.Errorf("agent: the SVID %s is not of trust domain %s", iss.id, td)
	}
	btd, err := bundleTD(iss.bundle)
	if err != nil {
		return nil, fmt.Errorf("agent: the CA's bundle: %w", err)
	}
	if btd != td {
		return nil, fmt.Errorf("agent: the CA's bundle is of %s, not %s", btd, td)
	}
	if err := verifyChain(iss.chain, iss.bundle, now); err != nil {
		return nil, err
	}
	if err := checkCRL(iss.crl, iss.bundle, now); err != nil {
		return nil, err
	}
	raw := make([][]byte, len(iss.chain))
	for i, c := range iss.chain {
		raw[i] = c.Raw
	}
	return &svid{
		id: iss.id, td: td,
		cert:     &tls.Certificate{Certificate: raw, PrivateKey: key, Leaf: leaf},
		chainPEM: iss.chainPEM, keyPEM: keyPEM,
		bundle: iss.bundle, bundlePEM: iss.bundlePEM,
		crl: iss.crl, crlPEM: iss.crlPEM,
		start: later(leaf.NotBefore, now),
	}, nil
}

// verifyChain verifies an SVID chain (leaf first) to the authorities of
// bundle, all of which are trust anchors of the trust domain (SPIFFE
// X509-SVID spec §4.1), for client and server auth.
func verifyChain(chain, bundle []*x509.Certificate, now time.Time) error {
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range bundle {
		roots.AddCert(c)
	}
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	for _, u := range []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth} {
		if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{u}}); err != nil {
			return fmt.Errorf("agent: the SVID does not verify to the bundle: %w", err)
		}
	}
	return nil
}

// checkCRL checks that the CRL is signed by an authority of bundle (the
// root signs it: contract.md) and is not past its nextUpdate.
func checkCRL(crl *x509.RevocationList, bundle []*x509.Certificate, now time.Time) error {
	signed := false
	for _, c := range bundle {
		if crl.CheckSignatureFrom(c) == nil {
			signed = true
			break
		}
	}
	if !signed {
		return errors.New("agent: the CRL is not signed by an authority of the bundle")
	}
	if !crl.NextUpdate.IsZero() && now.After(crl.NextUpdate) {
		return errors.New("agent: the CRL is past its nextUpdate")
	}
	return nil
}

// publicKeysEqual compares two public keys of the standard library types.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	ak, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ak.Equal(b)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// chainOf returns the parsed chain of s, leaf first.
func chainOf(s *svid) []*x509.Certificate {
	out := []*x509.Certificate{s.cert.Leaf}
	for _, raw := range s.cert.Certificate[1:] {
		if c, err := x509.ParseCertificate(raw); err == nil {
			out = append(out, c)
		}
	}
	return out
}
