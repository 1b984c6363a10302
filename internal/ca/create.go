package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"os"
	"time"
)

// createCA makes a new CA and writes it to keyPath (sealed) and certPath.
func createCA(opts LocalOptions, certPath, keyPath string) (*Local, error) {
	ca, der, err := newCA(opts.Clock())
	if err != nil {
		return nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		return nil, fmt.Errorf("ca: auto tls: %w", err)
	}
	sealed, err := opts.Sealer.Seal([]byte(caKeyAD), pkcs8)
	clear(pkcs8)
	if err != nil {
		return nil, fmt.Errorf("ca: auto tls: seal CA key: %w", err)
	}
	// The key first, with O_EXCL: when two processes start at once, one
	// creates the CA and the other fails here and loads it on retry,
	// instead of both writing different CAs.
	if err := writeNew(keyPath, sealed, 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("ca: auto tls: another process is creating the CA in %s; start again", opts.Dir)
		}
		return nil, fmt.Errorf("ca: auto tls: write CA key: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	// 0644: the CA certificate is public; clients and other users need to
	// read it to trust the server.
	if err := writeNew(certPath, certPEM, 0o644); err != nil {
		_ = os.Remove(keyPath)
		return nil, fmt.Errorf("ca: auto tls: write CA certificate: %w", err)
	}
	opts.Logger.Info("ca: created the local TLS CA; clients must trust its certificate",
		slog.String("ca_file", certPath), slog.Time("not_after", ca.cert.NotAfter))
	return ca, nil
}

// newCA generates the CA key and its self-signed certificate, valid from
// now (less clockSkew) for caLifetime; it returns the certificate's DER.
func newCA(now time.Time) (*Local, []byte, error) {
	// ECDSA P-256: 128-bit security, and the key type every TLS client
	// verifies (Mozilla intermediate; NIST SP 800-57 Pt.1 Rev.5).
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: auto tls: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
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
		return nil, nil, fmt.Errorf("ca: auto tls: create CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: auto tls: %w", err)
	}
	return &Local{cert: cert, key: key}, der, nil
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
		return nil, fmt.Errorf("ca: serial: %w", err)
	}
	return s.Add(s, big.NewInt(1)), nil
}
