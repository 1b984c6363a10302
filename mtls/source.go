package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Source supplies a workload's own X509-SVID and what it needs to verify
// its peers: the trust bundles and the CRLs. The SPIFFE tls.Config
// builders read it at every handshake, so a renewed SVID, a new bundle or
// a new CRL applies to the next handshake. Implementations are safe for
// concurrent use.
type Source interface {
	// SVID returns the current chain (leaf first) and key, with Leaf set;
	// an error when none is valid now.
	SVID() (*tls.Certificate, error)
	Bundles
	Revocations
}

var (
	_ poolProvider = (*StaticSource)(nil)
	_ poolProvider = (*DirSource)(nil)
	_ poolProvider = (*SocketSource)(nil)
	_ chainChecker = (*StaticSource)(nil)
	_ chainChecker = (*DirSource)(nil)
	_ chainChecker = (*SocketSource)(nil)
	_ Source       = (*StaticSource)(nil)
	_ Source       = (*DirSource)(nil)
	_ Source       = (*SocketSource)(nil)
)

// trustState is one immutable snapshot of a source: replaced whole, never
// modified, so a handshake sees a consistent SVID, bundle and CRL.
type trustState struct {
	svid    *tls.Certificate // nil: none yet
	svidErr error            // why svid is nil, when known
	bundles bundleMap
	pools   map[spiffeid.TrustDomain]*x509.CertPool // bundles as pools, built by store
	crls    map[spiffeid.TrustDomain]*crlInfo
}

// stateHolder holds a source's current snapshot and revocation policy.
type stateHolder struct {
	st     atomic.Pointer[trustState]
	policy revocationPolicy
}

// store publishes st, first building its pools: once per change rather
// than once per handshake.
func (h *stateHolder) store(st *trustState) {
	st.pools = make(map[spiffeid.TrustDomain]*x509.CertPool, len(st.bundles))
	for td, certs := range st.bundles {
		pool := x509.NewCertPool()
		for _, c := range certs {
			pool.AddCert(c)
		}
		st.pools[td] = pool
	}
	h.st.Store(st)
}

func (h *stateHolder) rootPool(td spiffeid.TrustDomain) (*x509.CertPool, bool) {
	p, ok := h.load().pools[td]
	return p, ok
}

func (h *stateHolder) load() *trustState {
	if s := h.st.Load(); s != nil {
		return s
	}
	return &trustState{}
}

// svid returns the snapshot's SVID when it is valid at now.
func (h *stateHolder) svid() (*tls.Certificate, error) {
	s := h.load()
	if s.svid == nil {
		if s.svidErr != nil {
			return nil, s.svidErr
		}
		return nil, errors.New("mtls: no SVID")
	}
	now, leaf := h.policy.now(), s.svid.Leaf
	switch {
	case now.After(leaf.NotAfter):
		return nil, fmt.Errorf("mtls: SVID expired at %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return nil, fmt.Errorf("mtls: SVID not valid before %s", leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return s.svid, nil
}

func (h *stateHolder) authorities(td spiffeid.TrustDomain) ([]*x509.Certificate, bool) {
	return h.load().bundles.X509Authorities(td)
}

func (h *stateHolder) checkChain(td spiffeid.TrustDomain, chain []*x509.Certificate) error {
	return h.policy.check(h.load().crls, td, chain)
}

func (h *stateHolder) isRevoked(td spiffeid.TrustDomain, cert *x509.Certificate) bool {
	return h.checkChain(td, []*x509.Certificate{cert}) != nil
}

func (h *stateHolder) stale() bool { return h.policy.isStale(h.load().crls) }

// leafOf returns cert's parsed leaf, parsing it when Leaf is unset.
func leafOf(cert *tls.Certificate) (*x509.Certificate, error) {
	if cert == nil || len(cert.Certificate) == 0 {
		return nil, errors.New("mtls: no SVID")
	}
	if cert.Leaf != nil {
		return cert.Leaf, nil
	}
	return x509.ParseCertificate(cert.Certificate[0])
}
