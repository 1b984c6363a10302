package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/mtls"
)

// autoTLSLifetime: the auto-TLS server certificate is short-lived and only
// in memory, so a leaked one is useful for days at most (RFC 8555's
// short-lived certificates; CA/B Forum ballot SC-081).
const autoTLSLifetime = 7 * 24 * time.Hour

// ServerCertSource returns an in-memory server certificate source signed
// by the active intermediate, presenting the chain [leaf, intermediate,
// root], renewed during a handshake once less than a third of its life is
// left or when another intermediate became active. hosts are its DNS/IP
// SANs (default localhost, 127.0.0.1, ::1). id "" gives the auto-TLS
// profile (serverAuth, 7 days, CN the first host); a path such as
// "/rampart/ca" gives an SVID-shaped certificate with URI SAN
// spiffe://<td><id> (serverAuth + clientAuth, lifetime ca.svid_ttl). An
// invalid id makes every handshake fail.
func (a *Authority) ServerCertSource(hosts []string, id string) mtls.CertSource {
	s := &serverCerts{a: a}
	for _, h := range hosts {
		if h != "" {
			s.hosts = append(s.hosts, h)
		}
	}
	if len(s.hosts) == 0 {
		s.hosts = []string{"localhost", "127.0.0.1", "::1"}
	}
	if id != "" {
		sid, err := spiffeid.FromPath(a.td, id)
		if err != nil {
			s.err = fmt.Errorf("ca: server certificate: %w", err)
		} else {
			s.uri = sid.URL()
		}
	}
	return s
}

type serverCerts struct {
	a     *Authority
	hosts []string
	uri   *url.URL // nil: auto-TLS profile
	err   error

	mu     sync.Mutex
	leaf   *tls.Certificate
	issuer string
}

var _ mtls.CertSource = (*serverCerts)(nil)

// GetCertificate returns the current certificate, renewing it when due.
// When renewal fails, a still-valid certificate keeps being served.
func (s *serverCerts) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if s.err != nil {
		return nil, s.err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.a.o.Clock()
	_, inter, ierr := s.a.signer(now)
	if l := s.leaf; l != nil && ierr == nil && inter.rec.ID == s.issuer {
		life := l.Leaf.NotAfter.Sub(l.Leaf.NotBefore)
		if now.Before(l.Leaf.NotAfter.Add(-life / 3)) {
			return l, nil
		}
	}
	var (
		leaf *tls.Certificate
		err  = ierr
	)
	if err == nil {
		leaf, err = s.issue(inter, now)
	}
	if err != nil {
		if s.leaf != nil && now.Before(s.leaf.Leaf.NotAfter) {
			s.a.o.Logger.Error("ca: renewing the server certificate failed; serving the current one", "error", err.Error())
			return s.leaf, nil
		}
		return nil, err
	}
	s.leaf, s.issuer = leaf, inter.rec.ID
	return leaf, nil
}

func (s *serverCerts) issue(inter *loaded, now time.Time) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), s.a.o.Rand)
	if err != nil {
		return nil, fmt.Errorf("ca: server certificate: %w", err)
	}
	serial, err := newSerial(s.a.o.Rand)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"Rampart"}},
		NotBefore:             now.Add(-backdate),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	if s.uri == nil {
		// serverAuth only: this certificate cannot authenticate a client
		// (RFC 5280 §4.2.1.12).
		tmpl.Subject.CommonName = s.hosts[0]
		tmpl.NotAfter = now.Add(autoTLSLifetime)
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	} else {
		tmpl.URIs = []*url.URL{s.uri}
		tmpl.NotAfter = now.Add(s.a.o.DefaultSVIDTTL)
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	if tmpl.NotAfter.After(inter.cert.NotAfter) {
		tmpl.NotAfter = inter.cert.NotAfter
	}
	for _, h := range s.hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(s.a.o.Rand, tmpl, inter.cert, &key.PublicKey, inter.key)
	if err != nil {
		return nil, fmt.Errorf("ca: server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca: server certificate: %w", err)
	}
	root := s.a.snapshot().root.cert
	return &tls.Certificate{Certificate: [][]byte{der, inter.cert.Raw, root.Raw}, PrivateKey: key, Leaf: leaf}, nil
}
