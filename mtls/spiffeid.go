package mtls

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// oidSubjectAltName is the subjectAltName extension (RFC 5280 §4.2.1.6).
var oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}

// maxIDLength bounds a SPIFFE ID: the SPIFFE-ID spec §2.3 asks
// implementations to support 2048 bytes of URI and no more is needed.
const maxIDLength = 2048

// IDFromCert returns the SPIFFE ID of an X509-SVID leaf, enforcing the
// X509-SVID specification on it:
//
//   - exactly one URI SAN (§2: "An X.509 SVID MUST contain exactly one URI
//     SAN"); zero or several are refused, never "the first";
//   - the URI is a SPIFFE ID in canonical form: parsed with spiffeid and
//     refused unless its String() is byte for byte the SAN's text, so an
//     uppercase trust domain, a trailing slash, "." or ".." segments,
//     percent-encoding, a query, fragment, userinfo or port, an IPv6 host
//     with a zone (CVE-2024-45341) or an embedded NUL never name anyone;
//   - the ID has a path: the bare trust domain ID names the CA, not a
//     workload (SPIFFE-ID §2.2);
//   - the certificate is a leaf (§4.1: cA false) whose key usage has
//     digitalSignature and neither keyCertSign nor cRLSign (§4.3).
//
// It does not verify the chain: see VerifySVID.
func IDFromCert(cert *x509.Certificate) (spiffeid.ID, error) {
	if cert == nil {
		return spiffeid.ID{}, errors.New("mtls: no certificate")
	}
	raw, err := rawURISANs(cert)
	if err != nil {
		return spiffeid.ID{}, err
	}
	if len(raw) != 1 || len(cert.URIs) != 1 {
		return spiffeid.ID{}, fmt.Errorf("mtls: an X509-SVID has exactly one URI SAN, this certificate has %d", len(raw))
	}
	id, err := parseCanonicalID(raw[0])
	if err != nil {
		return spiffeid.ID{}, err
	}
	// The URI crypto/x509 parsed (and name constraints were checked on)
	// must name the same ID as the raw text, or the two disagree about
	// who the certificate is for.
	if fromURI, err := spiffeid.FromURI(cert.URIs[0]); err != nil || fromURI != id {
		return spiffeid.ID{}, errors.New("mtls: the URI SAN does not parse to the same SPIFFE ID as its text")
	}
	switch {
	case cert.IsCA:
		return spiffeid.ID{}, errors.New("mtls: an X509-SVID leaf must not be a CA certificate (X509-SVID §4.1)")
	case cert.KeyUsage&x509.KeyUsageDigitalSignature == 0:
		return spiffeid.ID{}, errors.New("mtls: an X509-SVID leaf must have key usage digitalSignature (X509-SVID §4.3)")
	case cert.KeyUsage&(x509.KeyUsageCertSign|x509.KeyUsageCRLSign) != 0:
		return spiffeid.ID{}, errors.New("mtls: an X509-SVID leaf must not have key usage keyCertSign or cRLSign (X509-SVID §4.3)")
	}
	return id, nil
}

// parseCanonicalID parses a SPIFFE ID and refuses it unless raw is its
// canonical form, it uses only the SPIFFE-ID §2.1/§2.2 characters (also
// when go-spiffe is built with its back-compatibility character set) and
// it has a path.
func parseCanonicalID(raw string) (spiffeid.ID, error) {
	if len(raw) > maxIDLength {
		return spiffeid.ID{}, errors.New("mtls: SPIFFE ID too long")
	}
	if !strictIDChars(raw) {
		return spiffeid.ID{}, errors.New("mtls: SPIFFE ID is not canonical: characters outside the SPIFFE-ID set")
	}
	id, err := spiffeid.FromString(raw)
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("mtls: invalid SPIFFE ID: %w", err)
	}
	if id.String() != raw {
		return spiffeid.ID{}, errors.New("mtls: SPIFFE ID is not canonical")
	}
	if id.Path() == "" {
		return spiffeid.ID{}, errors.New("mtls: an X509-SVID leaf must not carry the bare trust domain ID")
	}
	return id, nil
}

// strictIDChars reports whether s is "spiffe://" then a trust domain of
// [a-z0-9._-] then a path of [a-zA-Z0-9._-/] (SPIFFE-ID §2.1, §2.2).
func strictIDChars(s string) bool {
	rest, ok := strings.CutPrefix(s, "spiffe://")
	if !ok {
		return false
	}
	inPath := false
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
		case c == '/':
			inPath = true
		case inPath && c >= 'A' && c <= 'Z':
		default:
			return false
		}
	}
	return true
}

// rawURISANs returns the text of every uniformResourceIdentifier
// GeneralName in the certificate's subjectAltName extension, exactly as
// encoded (RFC 5280 §4.2.1.6), so canonicality is judged on the bytes the
// issuer signed rather than on a re-serialized url.URL.
func rawURISANs(cert *x509.Certificate) ([]string, error) {
	var uris []string
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		var seq asn1.RawValue
		rest, err := asn1.Unmarshal(ext.Value, &seq)
		if err != nil || len(rest) != 0 || seq.Class != asn1.ClassUniversal || seq.Tag != asn1.TagSequence || !seq.IsCompound {
			return nil, errors.New("mtls: malformed subjectAltName extension")
		}
		for data := seq.Bytes; len(data) > 0; {
			var gn asn1.RawValue
			if data, err = asn1.Unmarshal(data, &gn); err != nil {
				return nil, errors.New("mtls: malformed subjectAltName extension")
			}
			const tagURI = 6 // GeneralName uniformResourceIdentifier [6] IA5String
			if gn.Class == asn1.ClassContextSpecific && gn.Tag == tagURI {
				uris = append(uris, string(gn.Bytes))
			}
		}
	}
	return uris, nil
}
