package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/kms"
)

// authorityID names a CA certificate: the first 16 bytes of the SHA-256 of
// its DER, hex. The sealed key's AD carries it, so a key copied to another
// authority's row does not open.
func authorityID(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:16])
}

// newSerial returns a positive 128-bit random serial number: unique
// without state and unpredictable (RFC 5280 §4.1.2.2 allows 20 octets;
// CA/B Forum Baseline Requirements §7.1 ask for at least 64 random bits).
func newSerial(r io.Reader) (*big.Int, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("ca: serial: %w", err)
	}
	s := new(big.Int).SetBytes(b) // non-negative; DER takes at most 17 octets (RFC 5280 allows 20)
	if s.Sign() == 0 {
		s.SetInt64(1)
	}
	return s, nil
}

// serialHex is the lowercase hex form of a serial used everywhere.
func serialHex(s *big.Int) string { return hex.EncodeToString(s.Bytes()) }

// tdURI is the trust domain ID spiffe://<td> as a URL, the URI SAN of the
// CA certificates.
func tdURI(td spiffeid.TrustDomain) *url.URL {
	u := td.ID().URL()
	return u
}

// caTemplate is the common profile of the root and intermediates: CA,
// certSign|cRLSign (critical, RFC 5280 §4.2.1.3), URI SAN spiffe://<td>,
// and critical name constraints permitting only URIs of the trust domain
// (RFC 5280 §4.2.1.10), so a certificate the CA is tricked into signing
// for another trust domain does not verify. The subdomains are excluded
// too: Go's verifier (like many) reads a permitted "td" as "td and its
// subdomains", and spiffe://sub.td is another trust domain.
func caTemplate(td spiffeid.TrustDomain, serial *big.Int, cn string, notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:                serial,
		Subject:                     pkix.Name{Organization: []string{"Rampart"}, CommonName: cn},
		NotBefore:                   notBefore,
		NotAfter:                    notAfter,
		IsCA:                        true,
		BasicConstraintsValid:       true,
		KeyUsage:                    x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs:                        []*url.URL{tdURI(td)},
		PermittedURIDomains:         []string{td.Name()},
		ExcludedURIDomains:          []string{"." + td.Name()},
		PermittedDNSDomainsCritical: true, // marks the whole name constraints extension critical
	}
}

// newRoot generates the root: ECDSA P-256, 10 years, self-signed.
func newRoot(o Options, now time.Time) (*loaded, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), o.Rand)
	if err != nil {
		return nil, fmt.Errorf("ca: root key: %w", err)
	}
	serial, err := newSerial(o.Rand)
	if err != nil {
		return nil, err
	}
	tmpl := caTemplate(o.TrustDomain, serial, "Rampart root CA "+o.TrustDomain.Name(), now.Add(-backdate), now.Add(RootTTL))
	tmpl.MaxPathLen = 1 // root -> intermediate -> leaf
	der, err := x509.CreateCertificate(o.Rand, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("ca: create root: %w", err)
	}
	return sealed(o, KindRoot, der, key, now, now)
}

// newIntermediate generates an intermediate signed by root: ECDSA P-256,
// o.IntermediateTTL (capped at the root's NotAfter), MaxPathLen 0,
// published at now, signing from activate.
func newIntermediate(o Options, root *loaded, now, activate time.Time) (*loaded, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), o.Rand)
	if err != nil {
		return nil, fmt.Errorf("ca: intermediate key: %w", err)
	}
	serial, err := newSerial(o.Rand)
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(o.IntermediateTTL)
	if notAfter.After(root.cert.NotAfter) {
		notAfter = root.cert.NotAfter
	}
	if !notAfter.After(activate) {
		return nil, errors.New("ca: the root expires before a new intermediate could sign; import or create a new root")
	}
	tmpl := caTemplate(o.TrustDomain, serial, "Rampart intermediate CA "+o.TrustDomain.Name()+" "+now.UTC().Format("20060102T150405Z"),
		now.Add(-backdate), notAfter)
	tmpl.MaxPathLen, tmpl.MaxPathLenZero = 0, true // signs leaves only
	der, err := x509.CreateCertificate(o.Rand, tmpl, root.cert, &key.PublicKey, root.key)
	if err != nil {
		return nil, fmt.Errorf("ca: create intermediate: %w", err)
	}
	return sealed(o, KindIntermediate, der, key, now, activate)
}

// sealed builds the loaded authority with its key sealed under its id.
func sealed(o Options, kind string, der []byte, key crypto.Signer, created, activate time.Time) (*loaded, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	id := authorityID(der)
	c, err := sealKey(o.Sealer, id, pkcs8)
	clear(pkcs8)
	if err != nil {
		return nil, err
	}
	rec := AuthorityRecord{ID: id, Kind: kind, CertDER: der, KeySealed: c, CreatedAt: created.UTC(),
		ActivateAt: activate.UTC(), NotAfter: cert.NotAfter.UTC()}
	return &loaded{rec: rec, cert: cert, key: key}, nil
}

// openKey unseals the key of authority id and checks it is cert's key.
func openKey(s kms.Sealer, id string, c []byte, cert *x509.Certificate) (crypto.Signer, error) {
	pt, err := s.Open(kms.CAKeyAD(id), c)
	if err != nil {
		return nil, fmt.Errorf("ca: the sealed private key of authority %s does not open with this master key "+
			"(wrong master key, or the row was tampered with): %w", id, err)
	}
	defer clear(pt)
	k, err := x509.ParsePKCS8PrivateKey(pt)
	if err != nil {
		return nil, fmt.Errorf("ca: the private key of authority %s: %w", id, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok || !publicKeyEqual(signer.Public(), cert.PublicKey) {
		return nil, fmt.Errorf("ca: the private key of authority %s does not match its certificate", id)
	}
	return signer, nil
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

// importRoot checks an operator's root (a CA certificate with certSign,
// ECDSA P-256 or P-384, the key matching, valid now, its URI name
// constraints admitting the trust domain) and seals its key.
func importRoot(o Options, imp *ImportedRoot, now time.Time) (*loaded, error) {
	cert, err := parsePEMCert(imp.CertPEM)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return nil, errors.New("ca: import: the certificate is not a CA (BasicConstraints CA:TRUE is required)")
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, errors.New("ca: import: the certificate's key usage does not allow certificate signing (keyCertSign)")
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCRLSign == 0 {
		return nil, errors.New("ca: import: the certificate's key usage does not allow CRL signing (cRLSign), which the CRL needs")
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || (pub.Curve != elliptic.P256() && pub.Curve != elliptic.P384()) {
		return nil, errors.New("ca: import: the root key must be ECDSA P-256 or P-384")
	}
	if now.Before(cert.NotBefore) || !now.Before(cert.NotAfter) {
		return nil, fmt.Errorf("ca: import: the certificate is not valid now (valid %s to %s)",
			cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if cert.NotAfter.Sub(now) < 3*o.IntermediateTTL {
		return nil, fmt.Errorf("ca: import: the certificate expires at %s, too soon for intermediates of %s",
			cert.NotAfter.UTC().Format(time.RFC3339), o.IntermediateTTL)
	}
	if err := uriConstraintsAdmit(cert, o.TrustDomain); err != nil {
		return nil, err
	}
	key, err := parsePEMKey(imp.KeyPEM)
	if err != nil {
		return nil, err
	}
	if !publicKeyEqual(key.Public(), cert.PublicKey) {
		return nil, errors.New("ca: import: the private key does not match the certificate")
	}
	return sealed(o, KindRoot, cert.Raw, key, now, now)
}

// uriConstraintsAdmit refuses a root whose URI name constraints exclude
// spiffe://<td> (RFC 5280 §4.2.1.10: the host must match a permitted
// domain, exactly or, for ".example", as a subdomain).
func uriConstraintsAdmit(cert *x509.Certificate, td spiffeid.TrustDomain) error {
	host := td.Name()
	match := func(c string) bool {
		if strings.HasPrefix(c, ".") {
			return strings.HasSuffix(host, c)
		}
		return strings.EqualFold(host, c)
	}
	for _, c := range cert.ExcludedURIDomains {
		if match(c) {
			return fmt.Errorf("ca: import: the certificate's name constraints exclude URIs of %s", host)
		}
	}
	if len(cert.PermittedURIDomains) == 0 {
		return nil
	}
	for _, c := range cert.PermittedURIDomains {
		if match(c) {
			return nil
		}
	}
	return fmt.Errorf("ca: import: the certificate's name constraints permit URIs of %v only, not spiffe://%s", cert.PermittedURIDomains, host)
}

func parsePEMCert(b []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("ca: import: no PEM CERTIFICATE block")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("ca: import: %w", err)
	}
	return c, nil
}

func parsePEMKey(b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("ca: import: no PEM private key block")
	}
	var (
		k   any
		err error
	)
	switch blk.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("ca: import: unsupported PEM block %q (PRIVATE KEY or EC PRIVATE KEY)", blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("ca: import: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("ca: import: the private key cannot sign")
	}
	return s, nil
}
