package httpx

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// BaseTLSConfig returns the TLS settings every Rampart listener starts
// from; callers add certificates. The choices follow the Mozilla Server
// Side TLS "intermediate" profile (v5.7) and RFC 9325 (BCP 195):
//
//   - MinVersion TLS 1.2: TLS 1.0 and 1.1 are deprecated (RFC 8996) and
//     refused. MaxVersion is left at Go's maximum, TLS 1.3, which Go always
//     negotiates when the client offers it, so TLS 1.3 is preferred (RFC
//     9325 §3.1.1). TLS 1.3 suites are all AEAD and not configurable in Go.
//   - TLS 1.2 suites: ECDHE only, for forward secrecy (RFC 9325 §4.1), and
//     AEAD only, AES-GCM and ChaCha20-Poly1305 (RFC 9325 §4.2; Mozilla
//     intermediate): no CBC (Lucky13, padding oracles), no RSA key
//     exchange (no forward secrecy, ROBOT), no 3DES or RC4. Go picks the
//     order itself (AES first when the hardware accelerates it).
//   - Key exchange: X25519MLKEM768 and SecP256r1MLKEM768 (hybrid
//     post-quantum, TLS 1.3 only, draft-ietf-tls-ecdhe-mlkem; protects
//     today's traffic against later quantum decryption), X25519 (RFC 7748)
//     and P-256 (Mozilla intermediate). P-384 and P-521 are dropped: slower
//     and needed by no client that lacks the others.
func BaseTLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		CurvePreferences: []tls.CurveID{
			tls.X25519MLKEM768,
			tls.SecP256r1MLKEM768,
			tls.X25519,
			tls.CurveP256,
		},
	}
}

// reloadInterval is how often FilesTLS looks at the files' modification
// times: seldom enough to cost nothing per handshake, often enough that a
// renewed certificate is served within seconds.
const reloadInterval = 5 * time.Second

// FilesTLS returns BaseTLSConfig serving the certificate in certFile (PEM,
// leaf first, then intermediates) with the private key in keyFile. The pair
// is validated now: the key must match the certificate and the certificate
// must be valid at this moment; the error says which check failed. The
// files are watched: a handshake at least five seconds after the last look
// checks their modification times and reloads them when they changed, so
// a renewed certificate (certbot, cert-manager) is picked up without a
// restart. A reload that fails validation is logged and the previous
// certificate kept, so a half-written renewal cannot take the server down.
func FilesTLS(certFile, keyFile string, logger *slog.Logger) (*tls.Config, error) {
	return filesTLS(certFile, keyFile, orDefault(logger), time.Now, reloadInterval)
}

func filesTLS(certFile, keyFile string, logger *slog.Logger, now func() time.Time, interval time.Duration) (*tls.Config, error) {
	fr := &fileReloader{certFile: certFile, keyFile: keyFile, logger: logger, now: now, interval: interval}
	if err := fr.load(); err != nil {
		return nil, err
	}
	cfg := BaseTLSConfig()
	cfg.GetCertificate = fr.getCertificate
	return cfg, nil
}

// fileReloader serves a certificate pair from files and reloads it when
// the files change.
type fileReloader struct {
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

// load reads and validates the pair; the caller holds mu or is the
// constructor.
func (fr *fileReloader) load() error {
	cs, err := stampOf(fr.certFile)
	if err != nil {
		return fmt.Errorf("httpx: tls cert_file: %w", err)
	}
	ks, err := stampOf(fr.keyFile)
	if err != nil {
		return fmt.Errorf("httpx: tls key_file: %w", err)
	}
	cert, err := loadKeyPair(fr.certFile, fr.keyFile, fr.now())
	if err != nil {
		return err
	}
	fr.cert, fr.certStamp, fr.keyStamp, fr.lastCheck = cert, cs, ks, fr.now()
	if left := cert.Leaf.NotAfter.Sub(fr.now()); left < 14*24*time.Hour {
		fr.logger.Warn("httpx: TLS certificate expires soon; renew it",
			slog.String("cert_file", fr.certFile), slog.Time("not_after", cert.Leaf.NotAfter))
	}
	return nil
}

// loadKeyPair loads and validates a PEM certificate and key.
func loadKeyPair(certFile, keyFile string, now time.Time) (*tls.Certificate, error) {
	// LoadX509KeyPair checks that the private key matches the leaf's
	// public key and fills Leaf.
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("httpx: tls files %s and %s: %w (is the key the one the certificate was issued for, and both PEM?)", certFile, keyFile, err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("httpx: tls cert_file %s: %w", certFile, err)
		}
		cert.Leaf = leaf
	}
	switch {
	case now.After(leaf.NotAfter):
		return nil, fmt.Errorf("httpx: tls cert_file %s expired on %s; renew it", certFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return nil, fmt.Errorf("httpx: tls cert_file %s is not valid before %s; check the clock", certFile, leaf.NotBefore.UTC().Format(time.RFC3339))
	case leaf.IsCA:
		return nil, fmt.Errorf("httpx: tls cert_file %s starts with a CA certificate; put the server certificate first", certFile)
	}
	return &cert, nil
}

func (fr *fileReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	now := fr.now()
	if now.Sub(fr.lastCheck) >= fr.interval {
		fr.lastCheck = now
		fr.maybeReload()
	}
	if fr.cert == nil {
		return nil, errors.New("httpx: no TLS certificate")
	}
	return fr.cert, nil
}

// maybeReload reloads when either file's stamp changed.
func (fr *fileReloader) maybeReload() {
	cs, err1 := stampOf(fr.certFile)
	ks, err2 := stampOf(fr.keyFile)
	if err := errors.Join(err1, err2); err != nil {
		fr.logger.Error("httpx: TLS files unreadable; keeping the current certificate", slog.String("error", err.Error()))
		return
	}
	if cs == fr.certStamp && ks == fr.keyStamp {
		return
	}
	cert, err := loadKeyPair(fr.certFile, fr.keyFile, fr.now())
	if err != nil {
		// Often a renewal caught between writing the certificate and the
		// key: retried at the next check. Logged once per version.
		if cs != fr.lastFailed {
			fr.lastFailed = cs
			fr.logger.Error("httpx: TLS reload failed; keeping the current certificate", slog.String("error", err.Error()))
		}
		return
	}
	fr.cert, fr.certStamp, fr.keyStamp = cert, cs, ks
	fr.logger.Info("httpx: TLS certificate reloaded",
		slog.String("cert_file", fr.certFile), slog.Time("not_after", cert.Leaf.NotAfter))
}
