// Package mtls holds Rampart's TLS building blocks for Go services: the
// hardened base settings every listener starts from, a certificate source
// that serves a PEM certificate and key from files and picks up a renewal
// without a restart, and mutual TLS between SPIFFE workloads with the
// X509-SVIDs Rampart's CA issues and `rampart agent` renews.
//
// It depends on nothing in Rampart's internal packages and can be imported
// by any Go service.
//
// # Server certificates from files
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
//
// # SPIFFE mutual TLS
//
// A Source supplies the workload's own SVID, the trust bundles and the
// CRL: DirSource reads the files of `rampart agent --out DIR`,
// SocketSource follows `rampart agent --socket PATH`, StaticSource holds
// them in memory. SPIFFEServerConfig and SPIFFEClientConfig build TLS 1.3
// configs (Go's default key exchange, X25519MLKEM768 first) that read the
// source at every handshake, verify the peer's X509-SVID with VerifySVID
// against the bundle of the peer's own trust domain and the CRL, and ask
// an Authorizer. A service that only billing and reports may call:
//
//	src, err := mtls.NewDirSource("/run/rampart-agent")
//	if err != nil {
//		return err
//	}
//	td := spiffeid.RequireTrustDomainFromString("prod.example.com")
//	allow := mtls.AuthorizeOneOf(
//		spiffeid.RequireFromPath(td, "/svc/billing"),
//		spiffeid.RequireFromPath(td, "/svc/reports"))
//	srv := &http.Server{Addr: ":8443", Handler: h,
//		TLSConfig: mtls.SPIFFEServerConfig(src, allow)}
//	return srv.ListenAndServeTLS("", "")
//
// and its client, which accepts only the server's ID:
//
//	tr := &http.Transport{TLSClientConfig: mtls.SPIFFEClientConfig(src,
//		mtls.AuthorizeID(spiffeid.RequireFromPath(td, "/svc/ledger")))}
//
// A handler reads the caller's verified ID with PeerID(r.TLS). A renewed
// SVID, a new bundle or a new CRL applies to the next handshake;
// established connections are never dropped.
//
// What is refused: a certificate with zero or several URI SANs, a
// non-canonical SPIFFE ID (uppercase trust domain, trailing slash, dot
// segments, percent-encoding, query, fragment, userinfo, port, an IPv6
// zone, a NUL), a CA certificate or a key usage other than
// digitalSignature on the leaf, a chain that does not verify against the
// bundle of the leaf's own trust domain (bundles are never pooled across
// trust domains) or breaks the authorities' name constraints, an expired
// certificate, a certificate whose serial (or whose intermediate's) is in
// the trust domain's CRL, and, with WithRequireFreshCRL, every peer while
// the CRL is missing or past its nextUpdate.
package mtls
