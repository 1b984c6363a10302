package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// DefaultDirReloadInterval is how often a DirSource looks at the agent's
// files: the agent renews at half an SVID's lifetime and a CRL changes on
// revocation, so a second is prompt and costs one stat of four files.
const DefaultDirReloadInterval = time.Second

// The files of the agent's --out directory.
const (
	dirSVIDFile   = "svid.pem"   // chain, leaf first
	dirKeyFile    = "svid.key"   // PKCS#8 private key
	dirBundleFile = "bundle.pem" // the trust domain's X.509 authorities
	dirCRLFile    = "crl.pem"    // the trust domain's CRL (optional)
)

// DirSource is a Source reading the files `rampart agent --out DIR`
// writes: svid.pem, svid.key, bundle.pem and crl.pem (the last optional).
// The bundle and CRL belong to the trust domain of the SVID. At most once
// per reload interval a call (made per handshake) looks at the files'
// modification times and sizes and reloads those that changed. A reload
// that fails validation (a key that does not match the certificate while
// the agent is between renames, bad PEM, a bundle without a CA, a CRL not
// signed by the bundle or not newer than the one held) is logged, the
// previous state kept, and retried at the next look. It is safe for
// concurrent use.
type DirSource struct {
	dir  string
	opts sourceOptions
	h    stateHolder

	mu        sync.Mutex
	lastCheck time.Time
	stamps    [4]fileStamp // svid, key, bundle, crl as last loaded
	failed    [4]fileStamp // as last failed, to log a failure once
}

// NewDirSource loads the agent files in dir. The SVID, key and bundle must
// be present and valid now; a missing crl.pem means no revocations yet
// (unless WithRequireFreshCRL), and an invalid one is logged and ignored.
func NewDirSource(dir string, opts ...SourceOption) (*DirSource, error) {
	o := newSourceOptions(DefaultDirReloadInterval, opts)
	s := &DirSource{dir: dir, opts: o,
		h: stateHolder{policy: revocationPolicy{requireFresh: o.requireFreshCRL, now: o.now, logger: o.logger}}}
	s.h.store(&trustState{})
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reload(true); err != nil {
		return nil, err
	}
	s.lastCheck = o.now()
	return s, nil
}

// SVID returns the current SVID, first reloading changed files when the
// reload interval has passed.
func (s *DirSource) SVID() (*tls.Certificate, error) {
	s.maybeReload()
	return s.h.svid()
}

// X509Authorities returns the bundle when td is the SVID's trust domain.
func (s *DirSource) X509Authorities(td spiffeid.TrustDomain) ([]*x509.Certificate, bool) {
	s.maybeReload()
	return s.h.authorities(td)
}

// IsRevoked reports whether cert is in td's CRL (or, with
// WithRequireFreshCRL, whether td's CRL is missing or stale).
func (s *DirSource) IsRevoked(td spiffeid.TrustDomain, cert *x509.Certificate) bool {
	s.maybeReload()
	return s.h.isRevoked(td, cert)
}

func (s *DirSource) rootPool(td spiffeid.TrustDomain) (*x509.CertPool, bool) {
	s.maybeReload()
	return s.h.rootPool(td)
}

func (s *DirSource) checkChain(td spiffeid.TrustDomain, chain []*x509.Certificate) error {
	s.maybeReload()
	return s.h.checkChain(td, chain)
}

// Stale reports whether the CRL held is past its nextUpdate.
func (s *DirSource) Stale() bool { return s.h.stale() }

func (s *DirSource) maybeReload() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.now()
	if now.Sub(s.lastCheck) < s.opts.interval {
		return
	}
	s.lastCheck = now
	_ = s.reload(false)
}

func (s *DirSource) path(name string) string { return filepath.Join(s.dir, name) }

// reload loads the files whose stamps changed; the caller holds mu. At
// construction (initial) a failure of the SVID, key or bundle is returned;
// afterwards every failure is logged once per file version and the
// previous state kept.
func (s *DirSource) reload(initial bool) error {
	var cur [4]fileStamp
	var statErr error
	for i, name := range []string{dirSVIDFile, dirKeyFile, dirBundleFile, dirCRLFile} {
		st, err := stampOf(s.path(name))
		if err != nil && !(i == 3 && errors.Is(err, fs.ErrNotExist)) {
			statErr = errors.Join(statErr, fmt.Errorf("mtls: agent file %s: %w", name, err))
		}
		cur[i] = st
	}
	if statErr != nil {
		if initial {
			return statErr
		}
		s.logFailure(cur, 0, statErr)
		return statErr
	}
	old := s.h.load()
	next := *old
	changed := false

	if initial || cur[0] != s.stamps[0] || cur[1] != s.stamps[1] {
		cert, err := s.loadSVID()
		if err != nil {
			if initial {
				return err
			}
			s.logFailure(cur, 0, err)
		} else {
			next.svid, next.svidErr, changed = cert, nil, true
			s.stamps[0], s.stamps[1] = cur[0], cur[1]
			if !initial {
				s.opts.logger.Info("mtls: SVID reloaded", slog.String("dir", s.dir),
					slog.Time("not_after", cert.Leaf.NotAfter))
			}
		}
	}
	td, tdErr := svidTrustDomain(next.svid)
	if tdErr != nil {
		return tdErr
	}
	bundleChanged := false
	if initial || cur[2] != s.stamps[2] || len(next.bundles[td]) == 0 {
		certs, err := readBundle(s.path(dirBundleFile))
		if err != nil {
			if initial {
				return err
			}
			s.logFailure(cur, 2, err)
		} else {
			next.bundles = bundleMap{td: certs}
			s.stamps[2], changed, bundleChanged = cur[2], true, true
		}
	}
	if cur[3] != s.stamps[3] || (bundleChanged && cur[3] != (fileStamp{}) && next.crls[td] == nil) {
		if cur[3] != (fileStamp{}) {
			if info, err := s.loadCRL(next.bundles[td], next.crls[td]); errors.Is(err, errCRLNotNewer) && !errors.Is(err, errCRLOlder) {
				s.stamps[3] = cur[3] // the same CRL rewritten
			} else if err != nil {
				s.logFailure(cur, 3, err)
			} else {
				next.crls = map[spiffeid.TrustDomain]*crlInfo{td: info}
				s.stamps[3], changed = cur[3], true
			}
		}
	}
	if changed {
		s.h.store(&next)
	}
	return nil
}

// logFailure logs err once per version of file i (for the SVID, i = 0,
// once per version of the certificate and key together).
func (s *DirSource) logFailure(cur [4]fileStamp, i int, err error) {
	if cur[i] == s.failed[i] && (i != 0 || cur[1] == s.failed[1]) {
		return
	}
	s.failed[i] = cur[i]
	if i == 0 {
		s.failed[1] = cur[1]
	}
	if i == 0 {
		// The agent writes the key before the certificate (contract), so a
		// reload between the two renames sees a pair that does not match:
		// expected once per renewal, and the next look picks up the pair.
		// It stays a warning: a pair that never matches shows up again
		// with every new version of the files.
		s.opts.logger.Warn("mtls: agent SVID files do not load (mid-renewal, or invalid); keeping the current SVID and retrying",
			slog.String("dir", s.dir), slog.String("error", err.Error()))
		return
	}
	s.opts.logger.Error("mtls: agent files reload failed; keeping the current state", slog.String("dir", s.dir),
		slog.String("error", err.Error()))
}

// loadSVID reads and validates the SVID and key: the key matches, the leaf
// is valid now and is an X509-SVID.
func (s *DirSource) loadSVID() (*tls.Certificate, error) {
	cert, err := loadKeyPair(s.path(dirSVIDFile), s.path(dirKeyFile), s.opts.now())
	if err != nil {
		return nil, err
	}
	if _, err := IDFromCert(cert.Leaf); err != nil {
		return nil, fmt.Errorf("mtls: agent file %s: %w", dirSVIDFile, err)
	}
	return cert, nil
}

// loadCRL reads crl.pem and accepts it when the bundle signed it and it is
// newer than old.
func (s *DirSource) loadCRL(authorities []*x509.Certificate, old *crlInfo) (*crlInfo, error) {
	data, err := readLimited(s.path(dirCRLFile), maxCRLSize)
	if err != nil {
		return nil, err
	}
	rl, err := ParseCRL(data)
	if err != nil {
		return nil, err
	}
	info, err := verifyCRL(rl, authorities)
	if err != nil {
		return nil, err
	}
	if err := info.replaceErr(old); err != nil {
		return nil, err
	}
	return info, nil
}

// svidTrustDomain is the trust domain of cert's SPIFFE ID.
func svidTrustDomain(cert *tls.Certificate) (spiffeid.TrustDomain, error) {
	if cert == nil {
		return spiffeid.TrustDomain{}, errors.New("mtls: no SVID")
	}
	id, err := IDFromCert(cert.Leaf)
	if err != nil {
		return spiffeid.TrustDomain{}, err
	}
	return id.TrustDomain(), nil
}

func readBundle(path string) ([]*x509.Certificate, error) {
	data, err := readLimited(path, maxCRLSize)
	if err != nil {
		return nil, err
	}
	return parseBundlePEM(data)
}

// readLimited reads path, refusing a file larger than limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path) // #nosec G304 -- the operator names the agent's directory.
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("mtls: %s is larger than %d bytes", path, limit)
	}
	return data, nil
}
