package ca

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/audit"
)

// authorizeRenewal verifies the client's current SVID: it chains to a
// current authority of this CA (the root through one of the intermediates
// in the bundle, not those the client sent), is unexpired, has exactly one
// canonical URI SAN in the trust domain, is recorded and not revoked, and
// its ID is not revoked (checked by the caller). The renewed SVID has the
// same ID.
func (a *Authority) authorizeRenewal(ctx context.Context, c PeerSVIDCred, asked *spiffeid.ID, now time.Time) (*grant, error) {
	if len(c.Chain) == 0 || c.Chain[0] == nil {
		return nil, unauthorized(errors.New("ca: renew: no client certificate"))
	}
	leaf := c.Chain[0]
	h := a.snapshot()
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(h.root.cert)
	for i, l := range h.inters {
		if st := h.state(i, now); st == StateActive || st == StateRetiring {
			inters.AddCert(l.cert)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, unauthorized(fmt.Errorf("ca: renew: the client certificate does not verify: %w", err))
	}
	if leaf.IsCA || len(leaf.URIs) != 1 {
		return nil, unauthorized(errors.New("ca: renew: the client certificate is not an X509-SVID (exactly one URI SAN, not a CA)"))
	}
	id, err := canonicalID(leaf.URIs[0].String())
	if err != nil || !id.MemberOf(a.td) {
		return nil, unauthorized(fmt.Errorf("ca: renew: the client certificate's ID is not of trust domain %s", a.td.Name()))
	}
	if asked != nil && *asked != id {
		return nil, forbidden("renewal keeps the SPIFFE ID of the current SVID", nil)
	}
	rec, err := a.o.Store.Cert(ctx, serialHex(leaf.SerialNumber))
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, unauthorized(errors.New("ca: renew: the client certificate was not issued as an SVID by this CA"))
	case err != nil:
		return nil, unavailable(err)
	case !rec.RevokedAt.IsZero():
		// The certificate is ours and known: the caller is identified, and
		// refused (403, contract.md), not merely unauthenticated.
		return nil, forbidden("the SVID is revoked", errors.New("ca: renew: the client certificate is revoked"))
	case rec.ID != id.String():
		return nil, unauthorized(errors.New("ca: renew: the client certificate does not match its record"))
	}
	dns, ttl, err := a.registrationFor(ctx, id)
	if err != nil {
		return nil, err
	}
	// The CSR's DNS names are checked against the registration, as at
	// first issuance: a renewal never widens the names.
	return &grant{id: id, dns: dns, ttl: ttl, action: audit.ActionCASVIDRenew, actor: "spiffe:" + id.String()}, nil
}
