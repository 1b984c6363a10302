package httpx

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rampart-auth/rampart/internal/kms"
)

// Sealer encrypts small secrets at rest with associated data; the master
// key's keyring (kms.Keyring) implements it.
type Sealer interface {
	Seal(ad, plaintext []byte) ([]byte, error)
	Open(ad, ciphertext []byte) ([]byte, error)
}

// AutoTLSOptions configure AutoTLS.
type AutoTLSOptions struct {
	// Dir holds the CA: <data_dir>/tls.
	Dir string
	// Hosts are the DNS names and IP addresses the server certificate is
	// valid for; empty means localhost, 127.0.0.1 and ::1.
	Hosts []string
	// Sealer encrypts the CA private key at rest (the master key).
	Sealer Sealer
	// Clock defaults to time.Now.
	Clock func() time.Time
	// Logger defaults to slog.Default.
	Logger *slog.Logger
}

// Files and lifetimes of the local CA.
const (
	caCertFile = "ca.pem"
	caKeyFile  = "ca.key.sealed"
	// caKeyAD binds the sealed key to its purpose and format: a ciphertext
	// sealed for anything else under the same master key does not open here.
	caKeyAD = kms.ADTLSCAKey
	// CAName is the subject common name of the local CA.
	CAName = "Rampart local CA"
	// caLifetime: the CA is what clients are told to trust, so it is
	// long-lived; its key never leaves Dir unencrypted.
	caLifetime = 10 * 365 * 24 * time.Hour
	// leafLifetime: the server certificate is short-lived and only in
	// memory, so a leaked one is useful for days at most (the reasoning of
	// RFC 8555's short-lived certificates, and CA/B Forum ballot SC-081's
	// move to shorter lifetimes).
	leafLifetime = 7 * 24 * time.Hour
	// clockSkew backdates NotBefore so clients whose clocks run a little
	// behind accept a fresh certificate.
	clockSkew = 5 * time.Minute
)

// CAFile returns the path of the local CA certificate in dir: the file
// clients must trust when TLS mode is auto.
func CAFile(dir string) string { return filepath.Join(dir, caCertFile) }

// AutoTLS returns BaseTLSConfig serving a certificate from Rampart's own
// local CA. On first use it creates the CA in opts.Dir (mode 0700): an
// ECDSA P-256 self-signed certificate named "Rampart local CA", valid ten
// years, allowed to sign only end-entity certificates (MaxPathLen 0),
// written to ca.pem for clients to trust, and its private key sealed with
// opts.Sealer into ca.key.sealed (mode 0600) — the key is never written in
// clear. Later starts load both, and refuse a key that does not decrypt or
// does not match ca.pem. The server certificate (ECDSA P-256, seven days,
// SANs from opts.Hosts, serverAuth only) lives in memory only and is
// reissued during a handshake once less than a third of its lifetime is
// left.
func AutoTLS(opts AutoTLSOptions) (*tls.Config, error) {
	if opts.Dir == "" {
		return nil, errors.New("httpx: auto tls: no directory")
	}
	if opts.Sealer == nil {
		return nil, errors.New("httpx: auto tls: no sealer (master key) to protect the CA key")
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	opts.Logger = orDefault(opts.Logger)
	var hosts []string
	for _, h := range opts.Hosts {
		if h != "" {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		hosts = []string{"localhost", "127.0.0.1", "::1"}
	}
	// 0700: only Rampart's user lists or reads the CA files.
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("httpx: auto tls: create %s: %w", opts.Dir, err)
	}
	ca, err := loadOrCreateCA(opts)
	if err != nil {
		return nil, err
	}
	is := &leafIssuer{ca: ca, hosts: hosts, clock: opts.Clock, logger: opts.Logger}
	if _, err := is.current(); err != nil {
		return nil, err
	}
	cfg := BaseTLSConfig()
	cfg.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return is.current() }
	return cfg, nil
}

// localCA is the loaded CA.
type localCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func loadOrCreateCA(opts AutoTLSOptions) (*localCA, error) {
	certPath := filepath.Join(opts.Dir, caCertFile)
	keyPath := filepath.Join(opts.Dir, caKeyFile)
	if err := recoverRewrapped(opts, keyPath); err != nil {
		return nil, err
	}
	_, certErr := os.Stat(certPath)
	_, keyErr := os.Stat(keyPath)
	switch {
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
		return createCA(opts, certPath, keyPath)
	case certErr != nil && !errors.Is(certErr, fs.ErrNotExist):
		return nil, fmt.Errorf("httpx: auto tls: %w", certErr)
	case keyErr != nil && !errors.Is(keyErr, fs.ErrNotExist):
		return nil, fmt.Errorf("httpx: auto tls: %w", keyErr)
	case keyErr != nil:
		return nil, fmt.Errorf("httpx: auto tls: %s exists but %s does not; restore the key from a backup, "+
			"or delete %s to create a new CA (clients must then trust the new %s)", certPath, keyPath, certPath, caCertFile)
	case certErr != nil:
		return nil, fmt.Errorf("httpx: auto tls: %s exists but %s does not; restore it from a backup, "+
			"or delete %s to create a new CA (clients must then trust the new %s)", keyPath, certPath, keyPath, caCertFile)
	}
	return loadCA(opts, certPath, keyPath)
}

func loadCA(opts AutoTLSOptions, certPath, keyPath string) (*localCA, error) {
	certPEM, err := os.ReadFile(certPath) // #nosec G304 -- the path is the configured data directory.
	if err != nil {
		return nil, fmt.Errorf("httpx: auto tls: %w", err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("httpx: auto tls: %s holds no PEM certificate", certPath)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("httpx: auto tls: %s: %w", certPath, err)
	}
	sealed, err := os.ReadFile(keyPath) // #nosec G304 -- the path is the configured data directory.
	if err != nil {
		return nil, fmt.Errorf("httpx: auto tls: %w", err)
	}
	der, err := opts.Sealer.Open([]byte(caKeyAD), sealed)
	if err != nil {
		return nil, fmt.Errorf("httpx: auto tls: cannot decrypt the CA key %s: it was tampered with, "+
			"or sealed under another master key (%w); restore the file or the master key, "+
			"or delete %s and %s to create a new CA", keyPath, err, keyPath, certPath)
	}
	defer clear(der)
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("httpx: auto tls: CA key %s: %w", keyPath, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("httpx: auto tls: CA key %s is a %T, want ECDSA", keyPath, k)
	}
	// ca.pem is public and world-readable: refuse one that was replaced,
	// or leaves would chain to a CA the clients were never given.
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("httpx: auto tls: %s does not belong to the CA key in %s; restore the original %s", certPath, keyPath, caCertFile)
	}
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return nil, fmt.Errorf("httpx: auto tls: %s is not a CA certificate", certPath)
	}
	now := opts.Clock()
	if now.After(cert.NotAfter) {
		return nil, fmt.Errorf("httpx: auto tls: the local CA %s expired on %s; delete %s and %s to create a new one "+
			"(clients must then trust the new %s)", certPath, cert.NotAfter.UTC().Format(time.RFC3339), certPath, keyPath, caCertFile)
	}
	if cert.NotAfter.Sub(now) < 90*24*time.Hour {
		opts.Logger.Warn("httpx: the local TLS CA expires soon; delete its files to create a new one and distribute the new ca.pem",
			slog.String("ca_file", certPath), slog.Time("not_after", cert.NotAfter))
	}
	return &localCA{cert: cert, key: key}, nil
}

func createCA(opts AutoTLSOptions, certPath, keyPath string) (*localCA, error) {
	// ECDSA P-256: 128-bit security, and the key type every TLS client
	// verifies (Mozilla intermediate; NIST SP 800-57 Pt.1 Rev.5).
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("httpx: auto tls: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := opts.Clock()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: CAName, Organization: []string{"Rampart"}},
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     now.Add(caLifetime),
		// A CA that signs server certificates only: no intermediate CAs
		// below it (MaxPathLen 0) and no use but signing certificates and
		// CRLs (RFC 5280 §4.2.1.3, §4.2.1.9).
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("httpx: auto tls: create CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("httpx: auto tls: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("httpx: auto tls: %w", err)
	}
	sealed, err := opts.Sealer.Seal([]byte(caKeyAD), pkcs8)
	clear(pkcs8)
	if err != nil {
		return nil, fmt.Errorf("httpx: auto tls: seal CA key: %w", err)
	}
	// The key first, with O_EXCL: when two processes start at once, one
	// creates the CA and the other fails here and loads it on retry,
	// instead of both writing different CAs.
	if err := writeNew(keyPath, sealed, 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("httpx: auto tls: another process is creating the CA in %s; start again", opts.Dir)
		}
		return nil, fmt.Errorf("httpx: auto tls: write CA key: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	// 0644: the CA certificate is public; clients and other users need to
	// read it to trust the server.
	if err := writeNew(certPath, certPEM, 0o644); err != nil {
		_ = os.Remove(keyPath)
		return nil, fmt.Errorf("httpx: auto tls: write CA certificate: %w", err)
	}
	opts.Logger.Info("httpx: created the local TLS CA; clients must trust its certificate",
		slog.String("ca_file", certPath), slog.Time("not_after", cert.NotAfter))
	return &localCA{cert: cert, key: key}, nil
}

// writeNew creates path (failing when it exists) with data and mode, and
// syncs it to disk. A failed write removes the partial file.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode) // #nosec G302 G304 -- path is in the configured data directory; mode is 0600 for the sealed key and 0644 for the public CA certificate.
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(path)
		return err
	}
	return nil
}

// randomSerial returns a positive 128-bit random serial number: unique
// without state, and unpredictable (CA/B Forum Baseline Requirements
// §7.1 ask for at least 64 random bits).
func randomSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("httpx: serial: %w", err)
	}
	return s.Add(s, big.NewInt(1)), nil
}

// leafIssuer keeps the current server certificate and renews it.
type leafIssuer struct {
	ca     *localCA
	hosts  []string
	clock  func() time.Time
	logger *slog.Logger

	mu   sync.Mutex
	leaf *tls.Certificate
}

// current returns the server certificate, issuing a new one when there is
// none or less than a third of its lifetime is left. When renewal fails,
// a still-valid certificate keeps being served.
func (is *leafIssuer) current() (*tls.Certificate, error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	now := is.clock()
	if l := is.leaf; l != nil {
		life := l.Leaf.NotAfter.Sub(l.Leaf.NotBefore)
		if now.Before(l.Leaf.NotAfter.Add(-life / 3)) {
			return l, nil
		}
	}
	leaf, err := is.issue(now)
	if err != nil {
		if is.leaf != nil && now.Before(is.leaf.Leaf.NotAfter) {
			is.logger.Error("httpx: auto tls: renewing the server certificate failed; serving the current one",
				slog.String("error", err.Error()))
			return is.leaf, nil
		}
		return nil, err
	}
	is.leaf = leaf
	is.logger.Debug("httpx: auto tls: issued server certificate", slog.Time("not_after", leaf.Leaf.NotAfter))
	return leaf, nil
}

func (is *leafIssuer) issue(now time.Time) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("httpx: auto tls: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(leafLifetime)
	if notAfter.After(is.ca.cert.NotAfter) {
		notAfter = is.ca.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: is.hosts[0]},
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     notAfter,
		// ECDSA keys sign the handshake; nothing else (RFC 5280 §4.2.1.3).
		KeyUsage: x509.KeyUsageDigitalSignature,
		// serverAuth only: this certificate cannot authenticate a client or
		// sign code (RFC 5280 §4.2.1.12).
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	// Names go in the SAN, which clients match (RFC 9525 §6.3; the CN is
	// informational).
	for _, h := range is.hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, is.ca.cert, &key.PublicKey, is.ca.key)
	if err != nil {
		return nil, fmt.Errorf("httpx: auto tls: issue server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("httpx: auto tls: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
