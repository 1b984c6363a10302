package mtls

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// DefaultReloadInterval is how often a FileSource looks at its files'
// modification times: seldom enough to cost nothing per handshake, often
// enough that a renewed certificate is served within seconds.
const DefaultReloadInterval = 5 * time.Second

// expiryWarning is how long before NotAfter a loaded certificate is
// logged as expiring soon.
const expiryWarning = 14 * 24 * time.Hour

// FileSource is a CertSource serving the certificate in a PEM file (leaf
// first, then intermediates) with the private key in another. A handshake
// at least the reload interval after the last look checks the files'
// modification times and sizes and reloads them when they changed, so a
// renewed certificate (certbot, cert-manager) is picked up without a
// restart. A reload that fails validation is logged and the previous
// certificate kept, so a half-written renewal cannot take the server down.
// It is safe for concurrent use.
type FileSource struct {
	certFile, keyFile string
	logger            *slog.Logger
	now               func() time.Time
	interval          time.Duration

	mu         sync.Mutex
	cert       *tls.Certificate
	certStamp  fileStamp
	keyStamp   fileStamp
	lastCheck  time.Time
	lastFailed fileStamp // the cert stamp of the last failed reload, to log it once
}

var _ CertSource = (*FileSource)(nil)

// FileOption configures a FileSource; it is a SourceOption, so the same
// WithClock, WithLogger and WithReloadInterval serve every source.
type FileOption = SourceOption

// NewFileSource loads the certificate in certFile and the private key in
// keyFile and returns a FileSource serving them. The pair is validated
// now: the key must match the certificate, the certificate must be valid
// at this moment and must not be a CA certificate; the error says which
// check failed. A certificate that expires within 14 days is logged as a
// warning.
func NewFileSource(certFile, keyFile string, opts ...FileOption) (*FileSource, error) {
	o := newSourceOptions(DefaultReloadInterval, opts)
	s := &FileSource{certFile: certFile, keyFile: keyFile, logger: o.logger, now: o.now, interval: o.interval}
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// fileStamp identifies a version of a file.
type fileStamp struct {
	mod  time.Time
	size int64
}

func stampOf(path string) (fileStamp, error) {
	st, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{st.ModTime(), st.Size()}, nil
}

// load reads and validates the pair; the caller is the constructor.
func (s *FileSource) load() error {
	cs, err := stampOf(s.certFile)
	if err != nil {
		return fmt.Errorf("mtls: tls cert_file: %w", err)
	}
	ks, err := stampOf(s.keyFile)
	if err != nil {
		return fmt.Errorf("mtls: tls key_file: %w", err)
	}
	cert, err := loadKeyPair(s.certFile, s.keyFile, s.now())
	if err != nil {
		return err
	}
	s.cert, s.certStamp, s.keyStamp, s.lastCheck = cert, cs, ks, s.now()
	if left := cert.Leaf.NotAfter.Sub(s.now()); left < expiryWarning {
		s.logger.Warn("mtls: TLS certificate expires soon; renew it",
			slog.String("cert_file", s.certFile), slog.Time("not_after", cert.Leaf.NotAfter))
	}
	return nil
}

// GetCertificate returns the current certificate, first reloading the
// files when the reload interval has passed and they changed. It never
// fails once NewFileSource succeeded: a failed reload keeps the previous
// certificate.
func (s *FileSource) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if now.Sub(s.lastCheck) >= s.interval {
		s.lastCheck = now
		s.maybeReload()
	}
	if s.cert == nil {
		return nil, errors.New("mtls: no TLS certificate")
	}
	return s.cert, nil
}

// maybeReload reloads when either file's stamp changed; the caller holds
// mu.
func (s *FileSource) maybeReload() {
	cs, err1 := stampOf(s.certFile)
	ks, err2 := stampOf(s.keyFile)
	if err := errors.Join(err1, err2); err != nil {
		s.logger.Error("mtls: TLS files unreadable; keeping the current certificate", slog.String("error", err.Error()))
		return
	}
	if cs == s.certStamp && ks == s.keyStamp {
		return
	}
	cert, err := loadKeyPair(s.certFile, s.keyFile, s.now())
	if err != nil {
		// Often a renewal caught between writing the certificate and the
		// key: retried at the next check. Logged once per version.
		if cs != s.lastFailed {
			s.lastFailed = cs
			s.logger.Error("mtls: TLS reload failed; keeping the current certificate", slog.String("error", err.Error()))
		}
		return
	}
	s.cert, s.certStamp, s.keyStamp = cert, cs, ks
	s.logger.Info("mtls: TLS certificate reloaded",
		slog.String("cert_file", s.certFile), slog.Time("not_after", cert.Leaf.NotAfter))
}
