package ca

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// Sealer encrypts small secrets at rest with associated data; the master
// key (keys.MasterKey) implements it.
type Sealer interface {
	Seal(ad, plaintext []byte) ([]byte, error)
	Open(ad, ciphertext []byte) ([]byte, error)
}

// Files and lifetimes of the local CA.
const (
	caCertFile = "ca.pem"
	caKeyFile  = "ca.key.sealed"
	// caKeyAD binds the sealed key to its purpose and format: a ciphertext
	// sealed for anything else under the same master key does not open here.
	caKeyAD = "rampart/tls-ca/v1"
	// CAName is the subject common name of the local CA.
	CAName = "Rampart local CA"
	// caLifetime: the CA is what clients are told to trust, so it is
	// long-lived; its key never leaves Dir unencrypted.
	caLifetime = 10 * 365 * 24 * time.Hour
	// caExpiryWarning: a CA this close to NotAfter is logged at each load,
	// leaving time to distribute a new ca.pem.
	caExpiryWarning = 90 * 24 * time.Hour
	// clockSkew backdates NotBefore so clients whose clocks run a little
	// behind accept a fresh certificate.
	clockSkew = 5 * time.Minute
)

// CAFile returns the path of the local CA certificate in dir: the file
// clients must trust when TLS mode is auto.
func CAFile(dir string) string { return filepath.Join(dir, caCertFile) }

// LocalOptions configure OpenLocal.
type LocalOptions struct {
	// Dir holds the CA: <data_dir>/tls.
	Dir string
	// Sealer encrypts the CA private key at rest (the master key).
	Sealer Sealer
	// Clock defaults to time.Now.
	Clock func() time.Time
	// Logger defaults to slog.Default.
	Logger *slog.Logger
}

// Local is the loaded local CA: its certificate and private key.
type Local struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// Certificate returns the CA certificate (the one in ca.pem).
func (l *Local) Certificate() *x509.Certificate { return l.cert }

// OpenLocal loads the local CA from opts.Dir, or creates it there when
// neither of its files exists. The CA is an ECDSA P-256 self-signed
// certificate named CAName, valid ten years, allowed to sign only
// end-entity certificates (MaxPathLen 0), written to ca.pem for clients to
// trust; its private key is sealed with opts.Sealer into ca.key.sealed
// (mode 0600) and never written in clear. The directory is created with
// mode 0700. A load refuses a key that does not decrypt, a ca.pem that
// does not match the key or is no CA, an expired CA, and a directory
// holding only one of the two files; the error says how to recover.
func OpenLocal(opts LocalOptions) (*Local, error) {
	if opts.Dir == "" {
		return nil, errors.New("ca: auto tls: no directory")
	}
	if opts.Sealer == nil {
		return nil, errors.New("ca: auto tls: no sealer (master key) to protect the CA key")
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	// 0700: only Rampart's user lists or reads the CA files.
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("ca: auto tls: create %s: %w", opts.Dir, err)
	}
	return loadOrCreateCA(opts)
}

func loadOrCreateCA(opts LocalOptions) (*Local, error) {
	certPath := filepath.Join(opts.Dir, caCertFile)
	keyPath := filepath.Join(opts.Dir, caKeyFile)
	_, certErr := os.Stat(certPath)
	_, keyErr := os.Stat(keyPath)
	switch {
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
		return createCA(opts, certPath, keyPath)
	case certErr != nil && !errors.Is(certErr, fs.ErrNotExist):
		return nil, fmt.Errorf("ca: auto tls: %w", certErr)
	case keyErr != nil && !errors.Is(keyErr, fs.ErrNotExist):
		return nil, fmt.Errorf("ca: auto tls: %w", keyErr)
	case keyErr != nil:
		return nil, fmt.Errorf("ca: auto tls: %s exists but %s does not; restore the key from a backup, "+
			"or delete %s to create a new CA (clients must then trust the new %s)", certPath, keyPath, certPath, caCertFile)
	case certErr != nil:
		return nil, fmt.Errorf("ca: auto tls: %s exists but %s does not; restore it from a backup, "+
			"or delete %s to create a new CA (clients must then trust the new %s)", keyPath, certPath, keyPath, caCertFile)
	}
	return loadCA(opts, certPath, keyPath)
}

func loadCA(opts LocalOptions, certPath, keyPath string) (*Local, error) {
	cert, err := readCACert(certPath)
	if err != nil {
		return nil, err
	}
	key, err := openCAKey(opts.Sealer, certPath, keyPath)
	if err != nil {
		return nil, err
	}
	// ca.pem is public and world-readable: refuse one that was replaced,
	// or leaves would chain to a CA the clients were never given.
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("ca: auto tls: %s does not belong to the CA key in %s; restore the original %s", certPath, keyPath, caCertFile)
	}
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return nil, fmt.Errorf("ca: auto tls: %s is not a CA certificate", certPath)
	}
	now := opts.Clock()
	if now.After(cert.NotAfter) {
		return nil, fmt.Errorf("ca: auto tls: the local CA %s expired on %s; delete %s and %s to create a new one "+
			"(clients must then trust the new %s)", certPath, cert.NotAfter.UTC().Format(time.RFC3339), certPath, keyPath, caCertFile)
	}
	if cert.NotAfter.Sub(now) < caExpiryWarning {
		opts.Logger.Warn("ca: the local TLS CA expires soon; delete its files to create a new one and distribute the new ca.pem",
			slog.String("ca_file", certPath), slog.Time("not_after", cert.NotAfter))
	}
	return &Local{cert: cert, key: key}, nil
}

// readCACert reads the PEM CA certificate at certPath.
func readCACert(certPath string) (*x509.Certificate, error) {
	certPEM, err := os.ReadFile(certPath) // #nosec G304 -- the path is the configured data directory.
	if err != nil {
		return nil, fmt.Errorf("ca: auto tls: %w", err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("ca: auto tls: %s holds no PEM certificate", certPath)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("ca: auto tls: %s: %w", certPath, err)
	}
	return cert, nil
}

// openCAKey reads the sealed CA key at keyPath and opens it with s under
// caKeyAD.
func openCAKey(s Sealer, certPath, keyPath string) (*ecdsa.PrivateKey, error) {
	sealed, err := os.ReadFile(keyPath) // #nosec G304 -- the path is the configured data directory.
	if err != nil {
		return nil, fmt.Errorf("ca: auto tls: %w", err)
	}
	der, err := s.Open([]byte(caKeyAD), sealed)
	if err != nil {
		return nil, fmt.Errorf("ca: auto tls: cannot decrypt the CA key %s: it was tampered with, "+
			"or sealed under another master key (%w); restore the file or the master key, "+
			"or delete %s and %s to create a new CA", keyPath, err, keyPath, certPath)
	}
	defer clear(der)
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("ca: auto tls: CA key %s: %w", keyPath, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("ca: auto tls: CA key %s is a %T, want ECDSA", keyPath, k)
	}
	return key, nil
}
