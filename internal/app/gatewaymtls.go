package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/mtls"
)

// gatewayTrust is the gateway's own SPIFFE identity (gateway.spiffe): the
// source of its SVID, bundles and CRL, the trust domain of its SVID, and
// what closes the source when the gateway stops.
type gatewayTrust struct {
	src    mtls.Source
	td     spiffeid.TrustDomain
	closer io.Closer // nil for a DirSource (nothing runs in the background)
}

// gatewaySocketWait bounds how long serve waits at start for the agent's
// socket to deliver a first valid SVID: an agent that is down must stop
// the start with a message, not hang it.
const gatewaySocketWait = 30 * time.Second

// openGatewayTrust opens gateway.spiffe: the agent's directory
// (mtls.NewDirSource) or socket (mtls.NewSocketSource, which waits up to
// gatewaySocketWait for a first valid SVID). The trust domain is the
// current SVID's: the listener admits clients of that trust domain only.
// Nil when there is no gateway.spiffe.
func openGatewayTrust(ctx context.Context, gc *config.Gateway, logger *slog.Logger) (*gatewayTrust, error) {
	s := gc.SPIFFE
	if s == nil {
		return nil, nil
	}
	opts := []mtls.SourceOption{mtls.WithLogger(logger)}
	t := &gatewayTrust{}
	if s.Dir != "" {
		src, err := mtls.NewDirSource(s.Dir, opts...)
		if err != nil {
			return nil, fmt.Errorf("gateway.spiffe.dir: %w", err)
		}
		t.src = src
	} else {
		wctx, cancel := context.WithTimeout(ctx, gatewaySocketWait)
		src, err := mtls.NewSocketSource(wctx, s.Socket, opts...)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("gateway.spiffe.socket: %w", err)
		}
		t.src, t.closer = src, src
	}
	cert, err := t.src.SVID()
	if err == nil {
		var id spiffeid.ID
		if id, err = mtls.IDFromCert(cert.Leaf); err == nil {
			t.td = id.TrustDomain()
		}
	}
	if err != nil {
		t.close()
		return nil, fmt.Errorf("gateway.spiffe: the gateway's SVID: %w", err)
	}
	return t, nil
}

// close stops the source's background work, if any.
func (t *gatewayTrust) close() {
	if t != nil && t.closer != nil {
		_ = t.closer.Close()
	}
}

// serverConfig is the listener's TLS in mode spiffe: the gateway's SVID,
// renewed per handshake, and client SVIDs of the gateway's own trust
// domain only, verified against the bundle and CRL of each handshake
// (mtls.SPIFFEServerConfig). A client certificate is optional unless
// require_client_cert: the `auth: none` and token routes stay reachable
// without one, and the mtls routes refuse a connection without one (403).
// A certificate a client does present must verify either way, so a
// wrong-trust-domain or revoked SVID fails at the handshake.
func (t *gatewayTrust) serverConfig(s *config.GatewaySPIFFE) *tls.Config {
	var opts []mtls.ConfigOption
	if !s.RequireClientCert {
		opts = append(opts, mtls.WithOptionalClientCert())
	}
	return mtls.SPIFFEServerConfig(t.src, mtls.AuthorizeMemberOf(t.td), opts...)
}
