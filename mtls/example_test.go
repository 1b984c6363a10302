package mtls_test

import (
	"crypto/tls"
	"fmt"
	"log"
	"log/slog"
	"net/http"

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
