// Package mtls holds Rampart's TLS building blocks for Go services: the
// hardened base settings every listener starts from, and a certificate
// source that serves a PEM certificate and key from files and picks up a
// renewal without a restart.
//
// It depends on nothing in Rampart's internal packages and can be imported
// by any Go service:
//
//	src, err := mtls.NewFileSource("/etc/tls/server.crt", "/etc/tls/server.key",
//		mtls.WithLogger(logger))
//	if err != nil {
//		return err
//	}
//	srv := &http.Server{Addr: ":8443", Handler: h, TLSConfig: mtls.ServerConfig(src)}
//	return srv.ListenAndServeTLS("", "")
//
// BaseConfig returns the settings alone, for a caller that supplies its
// certificates itself; ServerConfig adds any CertSource, such as a
// FileSource.
package mtls
