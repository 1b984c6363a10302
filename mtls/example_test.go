package mtls_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/mtls"
)

// A server presenting a certificate from files, picking up renewals
// without a restart.
func ExampleNewFileSource() {
	src, err := mtls.NewFileSource("/etc/tls/server.crt", "/etc/tls/server.key",
		mtls.WithLogger(slog.Default()))
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		Addr:      ":8443",
		Handler:   http.NotFoundHandler(),
		TLSConfig: mtls.ServerConfig(src),
	}
	log.Fatal(srv.ListenAndServeTLS("", ""))
}

// The base settings alone, for a caller that supplies its certificates.
func ExampleBaseConfig() {
	cfg := mtls.BaseConfig()
	fmt.Println(tls.VersionName(cfg.MinVersion))
	fmt.Println(tls.CipherSuiteName(cfg.CipherSuites[0]))
	// Output:
	// TLS 1.2
	// TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
}

// A SPIFFE server and client in one process: the client presents its
// SVID, the server verifies it against the trust domain's bundle and
// authorizes it by ID, and the handler reads the caller's ID.
func ExampleSPIFFEServerConfig() {
	td := spiffeid.RequireTrustDomainFromString("example.test")
	ca := newExampleCA(td)
	serverSrc := mtls.NewStaticSource(ca.svid("/svc/ledger"), ca.bundles())
	clientSrc := mtls.NewStaticSource(ca.svid("/svc/billing"), ca.bundles())

	billing := spiffeid.RequireFromPath(td, "/svc/billing")
	ledger := spiffeid.RequireFromPath(td, "/svc/ledger")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, _ := mtls.PeerID(r.TLS)
			fmt.Fprintf(w, "hello %s", id)
		}),
		TLSConfig:         mtls.SPIFFEServerConfig(serverSrc, mtls.AuthorizeID(billing)),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	defer srv.Close()

	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: mtls.SPIFFEClientConfig(clientSrc, mtls.AuthorizeID(ledger)),
	}}
	resp, err := client.Get("https://" + ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	fmt.Println(tls.VersionName(resp.TLS.Version), resp.TLS.CurveID)
	// Output:
	// hello spiffe://example.test/svc/billing
	// TLS 1.3 X25519MLKEM768
}

// exampleCA is a throwaway CA for the example; a real service gets its
// SVID and bundle from `rampart agent` (NewDirSource, NewSocketSource).
type exampleCA struct {
	td   spiffeid.TrustDomain
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newExampleCA(td spiffeid.TrustDomain) *exampleCA {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs: []*url.URL{td.ID().URL()}, PermittedURIDomains: []string{td.Name()},
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	return &exampleCA{td: td, cert: cert, key: key}
}

func (ca *exampleCA) bundles() map[spiffeid.TrustDomain][]*x509.Certificate {
	return map[spiffeid.TrustDomain][]*x509.Certificate{ca.td: {ca.cert}}
}

func (ca *exampleCA) svid(path string) *tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	tmpl := &x509.Certificate{
		SerialNumber: serial, NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:        []*url.URL{spiffeid.RequireFromPath(ca.td, path).URL()},
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	leaf, _ := x509.ParseCertificate(der)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}
