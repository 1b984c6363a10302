package ca

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// maxCSRSize bounds the DER of a CSR (a P-256 CSR is ~250 bytes; an RSA
// 8192 one with DNS names is well under 4 KiB).
const maxCSRSize = 16 << 10

// ParseCSR parses a PKCS#10 certificate request (RFC 2986) in DER and
// checks what the CA relies on: its signature (proof of possession of the
// key), the key type (ECDSA P-256 or P-384, Ed25519, RSA of 2048 to 8192
// bits), and at most one URI SAN, which must be a canonical SPIFFE ID
// (its String() equals the SAN text). Subject and other extensions are
// ignored by the CA.
func ParseCSR(der []byte) (*x509.CertificateRequest, error) {
	if len(der) == 0 || len(der) > maxCSRSize {
		return nil, fmt.Errorf("ca: csr: size %d out of range", len(der))
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("ca: csr: %w", err)
	}
	if err := checkPublicKey(csr.PublicKey); err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("ca: csr: bad signature: %w", err)
	}
	if len(csr.URIs) > 1 {
		return nil, errors.New("ca: csr: more than one URI SAN (an X509-SVID has exactly one SPIFFE ID)")
	}
	if len(csr.URIs) == 1 {
		if _, err := canonicalID(csr.URIs[0].String()); err != nil {
			return nil, fmt.Errorf("ca: csr: %w", err)
		}
	}
	return csr, nil
}

// canonicalID parses s as a SPIFFE ID and refuses a non-canonical form
// (an ID whose String() differs from the raw text, contract.md).
func canonicalID(s string) (spiffeid.ID, error) {
	id, err := spiffeid.FromString(s)
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("not a SPIFFE ID: %w", err)
	}
	if id.String() != s {
		return spiffeid.ID{}, fmt.Errorf("non-canonical SPIFFE ID %q", s)
	}
	return id, nil
}

// checkPublicKey accepts the key types of contract.md (ECDSA P-256, P-384,
// Ed25519) and RSA of at least 2048 bits (NIST SP 800-57 Part 1 §5.6.1:
// 112-bit security), at most 8192 (bounding verification cost).
func checkPublicKey(k any) error {
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
			return nil
		}
		return errors.New("ca: csr: ECDSA keys must be P-256 or P-384")
	case ed25519.PublicKey:
		return nil
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < 2048 || n > 8192 {
			return fmt.Errorf("ca: csr: RSA key of %d bits refused (2048 to 8192)", n)
		}
		return nil
	default:
		return fmt.Errorf("ca: csr: unsupported key type %T", k)
	}
}
