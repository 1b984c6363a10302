package agent

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/mtls"
)

// maxResponseBytes bounds what the agent reads from the CA: an SVID chain,
// a bundle of a few authorities and a CRL fit in far less; a larger answer
// is refused rather than buffered (memory proportional to one identity).
const maxResponseBytes = 1 << 20

// maxChainCerts and maxBundleCerts bound the certificates accepted in one
// response: a chain is [leaf, intermediate]; a bundle holds the root(s) and
// the published intermediates of one trust domain.
const (
	maxChainCerts  = 4
	maxBundleCerts = 32
)

// svidResponse is the JSON body of a 200 from POST /ca/v1/svid
// (contract.md, "Enrolment HTTP API").
type svidResponse struct {
	SPIFFEID  string `json:"spiffe_id"`
	SVID      string `json:"svid"`
	Bundle    string `json:"bundle"`
	CRL       string `json:"crl"`
	ExpiresAt string `json:"expires_at"`
	Serial    string `json:"serial"`
}

// issued is a decoded, self-consistent enrolment answer. It is not yet
// trusted: verifyIssued checks it against the agent's key and anchors.
type issued struct {
	id        spiffeid.ID
	chain     []*x509.Certificate // leaf first
	chainPEM  []byte
	bundle    []*x509.Certificate
	bundlePEM []byte
	crl       *x509.RevocationList
	crlPEM    []byte
	expiresAt time.Time
}

// decodeSVIDResponse parses the body of a 200 from POST /ca/v1/svid and
// checks that its parts agree with each other: the ID is canonical and is
// the leaf's one URI SAN, the serial and expires_at are the leaf's, the
// chain and bundle hold certificates only and the CRL is one X.509 CRL.
func decodeSVIDResponse(body []byte) (*issued, error) {
	var r svidResponse
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("agent: enrolment response: %w", err)
	}
	if dec.More() {
		return nil, errors.New("agent: enrolment response: data after the JSON object")
	}
	id, err := parseCanonicalID(r.SPIFFEID)
	if err != nil {
		return nil, fmt.Errorf("agent: enrolment response: spiffe_id: %w", err)
	}
	chain, err := parseCertsPEM([]byte(r.SVID), maxChainCerts)
	if err != nil {
		return nil, fmt.Errorf("agent: enrolment response: svid: %w", err)
	}
	leafID, err := mtls.IDFromCert(chain[0])
	if err != nil {
		return nil, fmt.Errorf("agent: enrolment response: svid: %w", err)
	}
	if leafID != id {
		return nil, fmt.Errorf("agent: enrolment response: svid names %s, spiffe_id %s", leafID, id)
	}
	serial, ok := new(big.Int).SetString(r.Serial, 16)
	if !ok || serial.Cmp(chain[0].SerialNumber) != 0 {
		return nil, errors.New("agent: enrolment response: serial is not the svid's")
	}
	exp, err := time.Parse(time.RFC3339, r.ExpiresAt)
	if err != nil {
		return nil, fmt.Errorf("agent: enrolment response: expires_at: %w", err)
	}
	if !exp.Truncate(time.Second).Equal(chain[0].NotAfter.Truncate(time.Second)) {
		return nil, errors.New("agent: enrolment response: expires_at is not the svid's NotAfter")
	}
	bundle, err := parseCertsPEM([]byte(r.Bundle), maxBundleCerts)
	if err != nil {
		return nil, fmt.Errorf("agent: enrolment response: bundle: %w", err)
	}
	crl, err := parseCRLPEM([]byte(r.CRL))
	if err != nil {
		return nil, fmt.Errorf("agent: enrolment response: crl: %w", err)
	}
	return &issued{
		id: id, chain: chain, chainPEM: encodeCerts(chain),
		bundle: bundle, bundlePEM: encodeCerts(bundle),
		crl: crl, crlPEM: pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl.Raw}),
		expiresAt: chain[0].NotAfter,
	}, nil
}

// parseCertsPEM parses one to max PEM CERTIFICATE blocks and nothing else
// (text between blocks is ignored, as by PEM readers generally; a block of
// another type is an error so that a key cannot hide in a chain).
func parseCertsPEM(b []byte, max int) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q where a CERTIFICATE belongs", blk.Type)
		}
		if len(certs) == max {
			return nil, fmt.Errorf("more than %d certificates", max)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM CERTIFICATE")
	}
	return certs, nil
}

// parseCRLPEM parses exactly one PEM X509 CRL block.
func parseCRLPEM(b []byte) (*x509.RevocationList, error) {
	blk, rest := pem.Decode(b)
	if blk == nil || blk.Type != "X509 CRL" {
		return nil, errors.New("no PEM X509 CRL")
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, errors.New("more than one PEM block")
	}
	return x509.ParseRevocationList(blk.Bytes)
}

// encodeCerts returns the certificates as PEM, in order.
func encodeCerts(certs []*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return buf.Bytes()
}

// parseCanonicalID parses a SPIFFE ID with spiffeid and refuses one whose
// canonical form differs from the text (contract: non-canonical IDs are
// refused, never normalised).
func parseCanonicalID(s string) (spiffeid.ID, error) {
	id, err := spiffeid.FromString(s)
	if err != nil {
		return spiffeid.ID{}, err
	}
	if id.String() != s {
		return spiffeid.ID{}, fmt.Errorf("%q is not in canonical form", s)
	}
	return id, nil
}
