package caapi

import (
	"crypto/tls"

	"github.com/rampart-auth/rampart/mtls"
)

// EnrolmentServerID is the SPIFFE ID path of the enrolment listener's
// server certificate (contract: spiffe://<td>/rampart/ca).
const EnrolmentServerID = "/rampart/ca"

// TLSConfig is the enrolment listener's TLS configuration over src (the
// CA's ServerCertSource(hosts, EnrolmentServerID)): mtls.BaseConfig, TLS
// 1.3 only (RFC 8446; a new listener has no legacy clients to serve), and
// a client certificate requested but not verified by crypto/tls
// (tls.RequestClientCert): a first enrolment has none, and a renewal's is
// verified by the CA against its current authorities, revocations and
// records, which crypto/tls cannot know.
func TLSConfig(src mtls.CertSource) *tls.Config {
	c := mtls.ServerConfig(src)
	c.MinVersion = tls.VersionTLS13
	c.ClientAuth = tls.RequestClientCert
	return c
}
