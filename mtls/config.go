package mtls

import "crypto/tls"

// BaseConfig returns the TLS settings every Rampart listener starts from;
// callers add certificates (see ServerConfig). Each call returns a new
// *tls.Config the caller may modify. The choices follow the Mozilla Server
// Side TLS "intermediate" profile (v5.7) and RFC 9325 (BCP 195):
//
//   - MinVersion TLS 1.2: TLS 1.0 and 1.1 are deprecated (RFC 8996) and
//     refused. MaxVersion is left at Go's maximum, TLS 1.3, which Go always
//     negotiates when the client offers it, so TLS 1.3 is preferred (RFC
//     9325 §3.1.1). TLS 1.3 suites are all AEAD and not configurable in Go.
//   - TLS 1.2 suites: ECDHE only, for forward secrecy (RFC 9325 §4.1), and
//     AEAD only, AES-GCM and ChaCha20-Poly1305 (RFC 9325 §4.2; Mozilla
//     intermediate): no CBC (Lucky13, padding oracles), no RSA key
//     exchange (no forward secrecy, ROBOT), no 3DES or RC4. Go picks the
//     order itself (AES first when the hardware accelerates it).
//   - Key exchange: X25519MLKEM768 and SecP256r1MLKEM768 (hybrid
//     post-quantum, TLS 1.3 only, draft-ietf-tls-ecdhe-mlkem; protects
//     today's traffic against later quantum decryption), X25519 (RFC 7748)
//     and P-256 (Mozilla intermediate). P-384 and P-521 are dropped: slower
//     and needed by no client that lacks the others.
func BaseConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		CurvePreferences: []tls.CurveID{
			tls.X25519MLKEM768,
			tls.SecP256r1MLKEM768,
			tls.X25519,
			tls.CurveP256,
		},
	}
}

// CertSource supplies the certificate a server presents, chosen or
// renewed per handshake. Its GetCertificate has the contract of
// tls.Config.GetCertificate: it is called concurrently, and an error
// aborts the handshake.
type CertSource interface {
	GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error)
}

// ServerConfig returns BaseConfig presenting the certificates of src.
func ServerConfig(src CertSource) *tls.Config {
	cfg := BaseConfig()
	cfg.GetCertificate = src.GetCertificate
	return cfg
}
