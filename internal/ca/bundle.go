package ca

import (
	"encoding/pem"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
)

// BundlePEM returns the X.509 authorities (Authorities) as PEM.
func (a *Authority) BundlePEM() []byte {
	var out []byte
	for _, c := range a.Authorities() {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// BundleJWKS returns the SPIFFE trust bundle (SPIFFE Trust Domain and
// Bundle §4: JWKS with "use":"x509-svid" keys, spiffe_sequence and
// spiffe_refresh_hint). The sequence grows with every change of the
// authorities: the generation (each rotation) plus the number of retired
// intermediates (each retirement).
func (a *Authority) BundleJWKS() ([]byte, error) {
	b := spiffebundle.New(a.td)
	b.SetX509Authorities(a.Authorities())
	h := a.snapshot()
	now := a.o.Clock()
	seq := uint64(max(h.gen, 0)) // #nosec G115 -- non-negative
	for i := range h.inters {
		if h.state(i, now) == StateRetired {
			seq++
		}
	}
	b.SetSequenceNumber(seq)
	b.SetRefreshHint(a.refreshHint())
	out, err := b.Marshal()
	if err != nil {
		return nil, fmt.Errorf("ca: bundle: %w", err)
	}
	return out, nil
}

// refreshHint is how often relying parties should fetch the bundle: well
// within the rotation propagation (a new intermediate must be everywhere
// before it signs), at most 5 minutes.
func (a *Authority) refreshHint() time.Duration {
	return max(min(5*time.Minute, a.o.RotationPropagation/4), time.Second)
}
