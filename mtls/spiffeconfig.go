package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// configOptions are the settings of the SPIFFE tls.Config builders.
type configOptions struct {
	optionalClientCert bool
	now                func() time.Time
}

// ConfigOption configures SPIFFEServerConfig or SPIFFEClientConfig.
type ConfigOption func(*configOptions)

// WithOptionalClientCert lets a client connect to a SPIFFEServerConfig
// without a certificate (tls.RequestClientCert); a certificate it does
// present must still verify and pass the authorizer. The handler then
// tells the two apart with PeerID. Without it a client certificate is
// required.
func WithOptionalClientCert() ConfigOption {
	return func(o *configOptions) { o.optionalClientCert = true }
}

// WithVerifyClock sets the clock peers' certificates are verified at; the
// default (and nil) is time.Now.
func WithVerifyClock(now func() time.Time) ConfigOption {
	return func(o *configOptions) {
		if now != nil {
			o.now = now
		}
	}
}

func newConfigOptions(opts []ConfigOption) configOptions {
	o := configOptions{now: time.Now}
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	return o
}

// spiffeBase is BaseConfig narrowed to TLS 1.3. TLS 1.3 only: every peer is
// a Rampart-managed workload, so there is no legacy client to serve, and
// 1.3 encrypts the certificates (RFC 8446 §2), hiding the SPIFFE IDs from
// on-path observers. CurvePreferences is nil so Go's default applies,
// X25519MLKEM768 first (hybrid post-quantum key exchange,
// draft-ietf-tls-ecdhe-mlkem), and follows Go's updates.
func spiffeBase() *tls.Config {
	cfg := BaseConfig()
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS13, tls.VersionTLS13
	cfg.CipherSuites = nil // not configurable in TLS 1.3
	cfg.CurvePreferences = nil
	return cfg
}

// SPIFFEServerConfig returns a TLS 1.3 server config for mutual TLS between
// SPIFFE workloads. Each handshake presents src.SVID() and verifies the
// client's X509-SVID with VerifySVID against src's bundle of the client's
// trust domain and src's CRLs, as they are at that handshake, requiring
// extended key usage clientAuth (or none), then asks authz. A client
// without a certificate is refused unless WithOptionalClientCert. A
// renewed SVID, a new bundle or a new CRL thus applies to the next
// handshake, and established connections are never dropped.
//
// Leave Certificates empty: crypto/tls prefers it to GetCertificate when
// the client sends no SNI (httptest.Server.StartTLS fills it, so serve
// with http.Server.ServeTLS instead).
//
// Verification runs in VerifyConnection rather than VerifyPeerCertificate
// because crypto/tls calls VerifyConnection on resumed sessions too: a
// session ticket issued before a revocation or a bundle change does not
// bypass the check.
func SPIFFEServerConfig(src Source, authz Authorizer, opts ...ConfigOption) *tls.Config {
	o := newConfigOptions(opts)
	cfg := spiffeBase()
	cfg.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return src.SVID() }
	cfg.ClientAuth = tls.RequireAnyClientCert
	if o.optionalClientCert {
		cfg.ClientAuth = tls.RequestClientCert
	}
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			if o.optionalClientCert {
				return nil
			}
			return errors.New("mtls: the client presented no certificate")
		}
		return verifyPeer(cs.PeerCertificates, src, authz, o.now(), x509.ExtKeyUsageClientAuth)
	}
	return cfg
}

// SPIFFEClientConfig returns a TLS 1.3 client config for mutual TLS
// between SPIFFE workloads. Each handshake presents src.SVID() and
// verifies the server's X509-SVID with VerifySVID against src's bundle of
// the server's trust domain and src's CRLs, requiring extended key usage
// serverAuth (or none), then asks authz: the server is identified by its
// SPIFFE ID, not by a DNS name, so ServerName needs no particular value.
func SPIFFEClientConfig(src Source, authz Authorizer, opts ...ConfigOption) *tls.Config {
	o := newConfigOptions(opts)
	cfg := spiffeBase()
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return src.SVID() }
	// crypto/tls's own verification checks a DNS name against one pool of
	// roots; SPIFFE authenticates the URI SAN against the bundle of the
	// peer's own trust domain. So the built-in check is turned off and
	// VerifyConnection below does the SPIFFE verification on every
	// handshake: no connection is accepted without it.
	cfg.InsecureSkipVerify = true // #nosec G402 -- the server is verified by VerifyConnection (VerifySVID + authz).
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("mtls: the server presented no certificate")
		}
		return verifyPeer(cs.PeerCertificates, src, authz, o.now(), x509.ExtKeyUsageServerAuth)
	}
	return cfg
}

func verifyPeer(certs []*x509.Certificate, src Source, authz Authorizer, now time.Time, usage x509.ExtKeyUsage) error {
	id, _, err := verifyCerts(certs, src, src, now, usage)
	if err != nil {
		return err
	}
	if authz == nil {
		return errors.New("mtls: no authorizer: every peer is refused")
	}
	return authz(id)
}

// PeerID returns the SPIFFE ID of the peer of a connection made through
// SPIFFEServerConfig or SPIFFEClientConfig, which verified it during the
// handshake; false when the peer presented no certificate. Through any
// other config the certificate may be unverified: PeerID only reads the ID
// and must not be used as an authentication there.
func PeerID(cs *tls.ConnectionState) (spiffeid.ID, bool) {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return spiffeid.ID{}, false
	}
	id, err := IDFromCert(cs.PeerCertificates[0])
	if err != nil {
		return spiffeid.ID{}, false
	}
	return id, true
}
