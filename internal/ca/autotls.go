package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/rampart-auth/rampart/mtls"
)

// leafLifetime: the server certificate is short-lived and only in
// memory, so a leaked one is useful for days at most (the reasoning of
// RFC 8555's short-lived certificates, and CA/B Forum ballot SC-081's
// move to shorter lifetimes).
const leafLifetime = 7 * 24 * time.Hour

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

// AutoTLS returns mtls.BaseConfig serving a certificate from the local CA
// in opts.Dir, which OpenLocal loads or creates. The server certificate
// (ECDSA P-256, seven days, SANs from opts.Hosts, serverAuth only) lives
// in memory only and is reissued during a handshake once less than a
// third of its lifetime is left.
func AutoTLS(opts AutoTLSOptions) (*tls.Config, error) {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	var hosts []string
	for _, h := range opts.Hosts {
		if h != "" {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		hosts = []string{"localhost", "127.0.0.1", "::1"}
	}
	ca, err := OpenLocal(LocalOptions{Dir: opts.Dir, Sealer: opts.Sealer, Clock: opts.Clock, Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	is := &leafIssuer{ca: ca, hosts: hosts, clock: opts.Clock, logger: opts.Logger}
	if _, err := is.current(); err != nil {
		return nil, err
	}
	return mtls.ServerConfig(is), nil
}

// leafIssuer keeps the current server certificate and renews it.
type leafIssuer struct {
	ca     *Local
	hosts  []string
	clock  func() time.Time
	logger *slog.Logger

	mu   sync.Mutex
	leaf *tls.Certificate
}

var _ mtls.CertSource = (*leafIssuer)(nil)

// GetCertificate returns the current server certificate (see current).
func (is *leafIssuer) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return is.current()
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
			is.logger.Error("ca: auto tls: renewing the server certificate failed; serving the current one",
				slog.String("error", err.Error()))
			return is.leaf, nil
		}
		return nil, err
	}
	is.leaf = leaf
	is.logger.Debug("ca: auto tls: issued server certificate", slog.Time("not_after", leaf.Leaf.NotAfter))
	return leaf, nil
}

func (is *leafIssuer) issue(now time.Time) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ca: auto tls: %w", err)
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
		return nil, fmt.Errorf("ca: auto tls: issue server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca: auto tls: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
