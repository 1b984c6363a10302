package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"
)

// loadKeyPair reads a PEM certificate chain and key from files and
// validates them as parseKeyPair does.
func loadKeyPair(certFile, keyFile string, now time.Time) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile) // #nosec G304 -- the operator names the certificate file.
	var keyPEM []byte
	if err == nil {
		keyPEM, err = os.ReadFile(keyFile) // #nosec G304 -- the operator names the key file.
	}
	if err != nil {
		return nil, keyPairError(certFile, keyFile, err)
	}
	defer clear(keyPEM)
	return parseKeyPair(certPEM, keyPEM, certFile, keyFile, now)
}

// parseKeyPair parses a PEM certificate chain (leaf first) and its PEM
// private key and checks that the key matches the leaf, that the leaf is
// valid at now and that it is not a CA certificate. certName and keyName
// name the inputs in errors.
func parseKeyPair(certPEM, keyPEM []byte, certName, keyName string, now time.Time) (*tls.Certificate, error) {
	// X509KeyPair checks that the private key matches the leaf's public
	// key and fills Leaf.
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, keyPairError(certName, keyName, err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("mtls: tls cert_file %s: %w", certName, err)
		}
		cert.Leaf = leaf
	}
	switch {
	case now.After(leaf.NotAfter):
		return nil, fmt.Errorf("mtls: tls cert_file %s expired on %s; renew it", certName, leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return nil, fmt.Errorf("mtls: tls cert_file %s is not valid before %s; check the clock", certName, leaf.NotBefore.UTC().Format(time.RFC3339))
	case leaf.IsCA:
		return nil, fmt.Errorf("mtls: tls cert_file %s starts with a CA certificate; put the server certificate first", certName)
	}
	return &cert, nil
}

func keyPairError(certName, keyName string, err error) error {
	return fmt.Errorf("mtls: tls files %s and %s: %w (is the key the one the certificate was issued for, and both PEM?)", certName, keyName, err)
}
