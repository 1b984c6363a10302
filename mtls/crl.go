package mtls

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Revocations says whether a certificate of a trust domain is revoked.
type Revocations interface {
	IsRevoked(td spiffeid.TrustDomain, cert *x509.Certificate) bool
}

// maxCRLSize bounds a CRL read from a file or the agent: a CRL lists only
// revoked, unexpired certificates of short lifetime.
const maxCRLSize = 8 << 20

// ParseCRL parses a CRL in PEM ("X509 CRL") or DER form. It does not check
// the signature: a source accepts a CRL only once it verifies against an
// authority of the trust domain's bundle.
func ParseCRL(data []byte) (*x509.RevocationList, error) {
	if len(data) > maxCRLSize {
		return nil, errors.New("mtls: CRL too large")
	}
	if block, rest := pem.Decode(data); block != nil {
		if block.Type != "X509 CRL" {
			return nil, fmt.Errorf("mtls: CRL: unexpected PEM block %q", block.Type)
		}
		if b, _ := pem.Decode(rest); b != nil {
			return nil, errors.New("mtls: CRL: more than one PEM block")
		}
		data = block.Bytes
	}
	rl, err := x509.ParseRevocationList(data)
	if err != nil {
		return nil, fmt.Errorf("mtls: CRL: %w", err)
	}
	return rl, nil
}

// crlInfo is an accepted CRL reduced to what verification needs: the
// revoked serials in a map (O(1) per certificate), its number and
// nextUpdate.
type crlInfo struct {
	number     *big.Int
	thisUpdate time.Time
	nextUpdate time.Time
	serials    map[string]struct{}
	warned     atomic.Bool // staleness logged once
}

// serialKey is a map key for a serial number (sign and magnitude).
func serialKey(n *big.Int) string {
	if n == nil {
		return ""
	}
	// One byte for the sign (Sign() is -1, 0 or 1), then the magnitude.
	sign := [3]string{"-", "0", "+"}[n.Sign()+1]
	return sign + string(n.Bytes())
}

// verifyCRL returns rl's crlInfo when its signature verifies against one of
// the trust domain's authorities (RFC 5280 §6.3.3 (f)/(g): the CRL issuer
// must be a CA of the domain; the CA signs with the root). A CRL nobody in
// the bundle signed is forged or foreign and refused.
func verifyCRL(rl *x509.RevocationList, authorities []*x509.Certificate) (*crlInfo, error) {
	if rl == nil {
		return nil, errors.New("mtls: no CRL")
	}
	signed := false
	for _, a := range authorities {
		if rl.CheckSignatureFrom(a) == nil {
			signed = true
			break
		}
	}
	if !signed {
		return nil, errors.New("mtls: CRL signature does not verify against the trust bundle; ignored")
	}
	info := &crlInfo{number: rl.Number, thisUpdate: rl.ThisUpdate, nextUpdate: rl.NextUpdate,
		serials: make(map[string]struct{}, len(rl.RevokedCertificateEntries))}
	if info.number == nil {
		info.number = new(big.Int)
	}
	for _, e := range rl.RevokedCertificateEntries {
		info.serials[serialKey(e.SerialNumber)] = struct{}{}
	}
	return info, nil
}

// replaces reports whether c may replace old: only a higher CRL number
// does (RFC 5280 §5.2.3: numbers increase), so a replayed older CRL cannot
// un-revoke a certificate.
func (c *crlInfo) replaces(old *crlInfo) bool {
	return old == nil || c.number.Cmp(old.number) > 0
}

// replaceErr is nil when c replaces old, errCRLOlder for a lower number
// (worth logging) and errCRLNotNewer for the same number (the agent wrote
// the CRL it already had: nothing to say).
func (c *crlInfo) replaceErr(old *crlInfo) error {
	switch {
	case c.replaces(old):
		return nil
	case c.number.Cmp(old.number) < 0:
		return errCRLOlder
	default:
		return errCRLNotNewer
	}
}

// stale reports whether now is past nextUpdate (a CRL without nextUpdate
// is always stale).
func (c *crlInfo) stale(now time.Time) bool {
	return c.nextUpdate.IsZero() || now.After(c.nextUpdate)
}

// revocationPolicy applies a set of CRLs: the serial check, staleness
// warnings and, when required, fail-closed refusal on a missing or stale
// CRL.
type revocationPolicy struct {
	requireFresh bool
	now          func() time.Time
	logger       *slog.Logger
}

// check returns an error when a certificate of chain is revoked in td's
// CRL, or when a fresh CRL is required and td's is missing or stale.
func (p revocationPolicy) check(crls map[spiffeid.TrustDomain]*crlInfo, td spiffeid.TrustDomain, chain []*x509.Certificate) error {
	info := crls[td]
	if info == nil {
		if p.requireFresh {
			return fmt.Errorf("mtls: no CRL for trust domain %q and a fresh CRL is required", td.Name())
		}
		return nil
	}
	if info.stale(p.now()) {
		if info.warned.CompareAndSwap(false, true) {
			p.logger.Warn("mtls: CRL is past its nextUpdate; still applied, check the agent and the CA",
				slog.String("trust_domain", td.Name()), slog.Time("next_update", info.nextUpdate))
		}
		if p.requireFresh {
			return fmt.Errorf("mtls: CRL of trust domain %q is stale and a fresh CRL is required", td.Name())
		}
	}
	for _, c := range chain {
		if _, revoked := info.serials[serialKey(c.SerialNumber)]; revoked {
			return fmt.Errorf("mtls: certificate serial %x of trust domain %q is revoked", c.SerialNumber, td.Name())
		}
	}
	return nil
}

// isStale reports whether any CRL in crls is past its nextUpdate.
func (p revocationPolicy) isStale(crls map[spiffeid.TrustDomain]*crlInfo) bool {
	now := p.now()
	for _, info := range crls {
		if info.stale(now) {
			return true
		}
	}
	return false
}

// chainChecker is implemented by this package's sources: one call checks
// a verified chain and says why it is refused.
type chainChecker interface {
	checkChain(td spiffeid.TrustDomain, chain []*x509.Certificate) error
}

var (
	errCRLNotNewer    = errors.New("mtls: CRL number is not higher than the one held; ignored")
	errCRLOlder       = fmt.Errorf("%w (lower: a replayed CRL?)", errCRLNotNewer)
	errNoBundleForCRL = errors.New("mtls: no trust bundle to verify the CRL against; ignored")
)

// cloneCRLs copies m into a new, non-nil map.
func cloneCRLs(m map[spiffeid.TrustDomain]*crlInfo) map[spiffeid.TrustDomain]*crlInfo {
	out := make(map[spiffeid.TrustDomain]*crlInfo, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}
