package upstream

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/mtls"
)

// maxResponseHeaderBytes bounds an upstream's response header. The
// transport's default is 10 MB, a lot of memory per response that a
// broken or hostile upstream could make the gateway hold; 64 KiB is far
// above any sane header block (nginx's proxy buffer for it is 4 or 8 KiB),
// and a response over it is a 502.
const maxResponseHeaderBytes = 64 << 10

// newTransport builds the pool's one transport.
//
//   - Proxy is nil: HTTP_PROXY and friends in the gateway's environment
//     must not silently route upstream traffic (and its identity
//     assertions) through another host (httpoxy, CVE-2016-5385, is the
//     same class of surprise).
//   - DisableCompression: the client's Accept-Encoding passes through and
//     the upstream's encoding comes back untouched, as a proxy should;
//     otherwise the transport would add gzip and decompress on its own.
//   - ForceAttemptHTTP2: HTTP/2 over TLS by ALPN, HTTP/1.1 otherwise (no
//     cleartext h2c).
//   - MaxIdleConnsPerHost: the default of 2 makes a busy proxy open and
//     close connections all the time; the pool keeps up to
//     Options.MaxIdleConnsPerHost (default 256, enough for the load
//     harness's concurrency) per target.
func newTransport(o Options, targets int) (*http.Transport, error) {
	tc, err := tlsConfig(o)
	if err != nil {
		return nil, err
	}
	d := &net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		TLSClientConfig:        tc,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    o.DialTimeout + 5*time.Second,
		ResponseHeaderTimeout:  o.ResponseHeaderTimeout,
		ExpectContinueTimeout:  time.Second,
		IdleConnTimeout:        90 * time.Second,
		MaxIdleConns:           o.MaxIdleConnsPerHost * targets,
		MaxIdleConnsPerHost:    o.MaxIdleConnsPerHost,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
		DisableCompression:     true,
	}, nil
}

// tlsConfig returns the upstream TLS client configuration: TLS 1.2 or
// later (RFC 9325 §3.1.1; OWASP Transport Layer Security Cheat Sheet),
// the CA file's roots when set (else the system's), the client
// certificate when set, and ServerName. The client certificate comes from
// an mtls.FileSource, which validates the pair now (matching key, valid
// today, not a CA) and reloads renewed files without a restart.
//
// With SPIFFEID the upstream is a SPIFFE workload instead: the config is
// mtls.SPIFFEClientConfig over the gateway's source, presenting the
// gateway's SVID and accepting only an X509-SVID of exactly that ID,
// verified against the bundle of its trust domain and the CRL (TLS 1.3;
// the SVID, bundle and CRL as they are at each handshake, so renewals
// need no restart). The URL's host is then only where to connect: the
// SPIFFE ID, not a DNS name, is what is authenticated (X509-SVID §5).
func tlsConfig(o Options) (*tls.Config, error) {
	if o.TLS.SPIFFEID != "" {
		id, err := spiffeid.FromString(o.TLS.SPIFFEID)
		if err != nil {
			return nil, fmt.Errorf("tls spiffe_id: %w", err)
		}
		if o.SPIFFE == nil {
			return nil, errors.New("tls spiffe_id needs the gateway's own SVID (gateway.spiffe)")
		}
		return mtls.SPIFFEClientConfig(o.SPIFFE, mtls.AuthorizeID(id), mtls.WithVerifyClock(o.Clock)), nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.TLS.ServerName}
	if o.TLS.CAFile != "" {
		pem, err := os.ReadFile(o.TLS.CAFile) // #nosec G304 -- the operator names the CA file.
		if err != nil {
			return nil, fmt.Errorf("tls ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("tls ca_file " + o.TLS.CAFile + ": no PEM certificate in it")
		}
		tc.RootCAs = pool
	}
	if o.TLS.CertFile != "" {
		src, err := mtls.NewFileSource(o.TLS.CertFile, o.TLS.KeyFile,
			mtls.WithClock(o.Clock), mtls.WithLogger(o.Logger))
		if err != nil {
			return nil, err
		}
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return src.GetCertificate(nil)
		}
	}
	return tc, nil
}
