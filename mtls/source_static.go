package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// StaticSource is a Source held in memory: for tests and for a process
// that obtains its SVID itself. Its setters replace parts of the state for
// the next handshake. It is safe for concurrent use; the clock is
// time.Now and the logger slog.Default().
type StaticSource struct {
	h  stateHolder
	mu sync.Mutex // serializes setters
}

// NewStaticSource returns a source serving cert (which may be nil for a
// source that only verifies peers), trusting bundles (copied) and applying
// crls: each CRL is kept for the trust domain whose authorities signed it;
// one that no bundle's authority signed is ignored and logged.
func NewStaticSource(cert *tls.Certificate, bundles map[spiffeid.TrustDomain][]*x509.Certificate, crls ...*x509.RevocationList) *StaticSource {
	s := &StaticSource{h: stateHolder{policy: revocationPolicy{now: time.Now, logger: slog.Default()}}}
	st := &trustState{bundles: copyBundles(bundles), crls: map[spiffeid.TrustDomain]*crlInfo{}}
	s.h.store(st)
	s.SetSVID(cert)
	for _, rl := range crls {
		if err := s.SetCRL(rl); err != nil {
			s.h.policy.logger.Error("mtls: CRL ignored", slog.String("error", err.Error()))
		}
	}
	return s
}

// SVID returns the certificate, or an error when there is none or it is
// not valid now.
func (s *StaticSource) SVID() (*tls.Certificate, error) { return s.h.svid() }

// X509Authorities returns the authorities of td.
func (s *StaticSource) X509Authorities(td spiffeid.TrustDomain) ([]*x509.Certificate, bool) {
	return s.h.authorities(td)
}

// IsRevoked reports whether cert is listed in td's CRL.
func (s *StaticSource) IsRevoked(td spiffeid.TrustDomain, cert *x509.Certificate) bool {
	return s.h.isRevoked(td, cert)
}

func (s *StaticSource) rootPool(td spiffeid.TrustDomain) (*x509.CertPool, bool) {
	return s.h.rootPool(td)
}

func (s *StaticSource) checkChain(td spiffeid.TrustDomain, chain []*x509.Certificate) error {
	return s.h.checkChain(td, chain)
}

// Stale reports whether a CRL held is past its nextUpdate.
func (s *StaticSource) Stale() bool { return s.h.stale() }

// SetSVID replaces the certificate served from the next handshake on (nil
// removes it). Leaf is filled when unset.
func (s *StaticSource) SetSVID(cert *tls.Certificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := *s.h.load()
	st.svid, st.svidErr = nil, nil
	if cert != nil {
		if leaf, err := leafOf(cert); err != nil {
			st.svidErr = err
		} else {
			c := *cert
			c.Leaf = leaf
			st.svid = &c
		}
	}
	s.h.store(&st)
}

// SetBundle replaces the authorities of td (an empty list removes td).
func (s *StaticSource) SetBundle(td spiffeid.TrustDomain, authorities []*x509.Certificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := *s.h.load()
	st.bundles = copyBundles(st.bundles)
	if len(authorities) == 0 {
		delete(st.bundles, td)
	} else {
		st.bundles[td] = append([]*x509.Certificate(nil), authorities...)
	}
	s.h.store(&st)
}

// SetCRL applies rl to the trust domain whose authorities signed it, when
// its CRL number is higher than the one held; it returns an error when no
// trust domain's authority signed it or when it is not newer.
func (s *StaticSource) SetCRL(rl *x509.RevocationList) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := *s.h.load()
	var lastErr error
	for td, auth := range st.bundles {
		info, err := verifyCRL(rl, auth)
		if err != nil {
			lastErr = err
			continue
		}
		if err := info.replaceErr(st.crls[td]); err != nil {
			return err
		}
		st.crls = cloneCRLs(st.crls)
		st.crls[td] = info
		s.h.store(&st)
		return nil
	}
	if lastErr == nil {
		lastErr = errNoBundleForCRL
	}
	return lastErr
}
