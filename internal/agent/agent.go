package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/mtls"
)

// Agent obtains, renews, stores and serves one X509-SVID. Create it with
// New and run it with Run.
type Agent struct {
	s       *settings
	log     *slog.Logger
	ca      *caClient
	holder  *holder
	metrics *metrics
	cred    *credential // nil until needed, and after a join token is used
	anchors anchors     // trust on first contact
	td      spiffeid.TrustDomain
	// refused: the last renewal over mTLS was refused (4xx); with
	// client credentials the next attempt enrols with them instead.
	refused bool
}

// ExpiredError is Run's answer when the SVID expired and could not be
// renewed: nothing is removed, and a new join token is needed.
type ExpiredError struct{ NotAfter time.Time }

func (e *ExpiredError) Error() string {
	return fmt.Sprintf("agent: the SVID expired at %s and could not be renewed; a new join token is needed: restart the agent with --join-token-file naming a fresh token",
		e.NotAfter.UTC().Format(time.RFC3339))
}

// New validates cfg and returns an Agent. A *UsageError names the flag at
// fault.
func New(cfg Config) (*Agent, error) {
	s, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	return &Agent{s: s, log: s.Logger, ca: &caClient{server: s.server}, holder: newHolder(), metrics: newMetrics()}, nil
}

// Run obtains the SVID and keeps it renewed until ctx ends; an Agent runs
// once (nil: a
// graceful stop, the socket closed and removed) or renewal becomes
// impossible. Errors: *UsageError when a credential file is missing,
// empty or malformed (exit 2); *ExpiredError, a refused join token, or a
// CA that fails first-contact verification (exit 1).
func (a *Agent) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if a.s.OutDir != "" {
		if err := prepareOutDir(a.s.OutDir); err != nil {
			return err
		}
	}
	cur := a.loadExisting()
	// A join token is read only when the agent must enrol: after the
	// first run it has been consumed. Client credentials are reusable and
	// read at once, for when renewal is refused or the SVID expires.
	if cur == nil || a.s.ClientID != "" {
		if err := a.loadCredential(cur); err != nil {
			return err
		}
	}
	if cur != nil {
		a.publish(cur, false)
	}
	servers, err := a.startServers(ctx)
	if err != nil {
		return err
	}
	err = a.loop(ctx, cur)
	cancel()
	if serr := servers(); err == nil {
		err = serr
	}
	return err
}

// loadExisting returns the SVID a previous run left in --out when it is
// valid now and of the requested ID, else nil (logged).
func (a *Agent) loadExisting() *svid {
	if a.s.OutDir == "" {
		return nil
	}
	now := a.s.Now()
	cur, err := loadSVIDFiles(a.s.OutDir, now)
	switch {
	case errors.Is(err, errNoSVID):
		return nil
	case err != nil:
		a.log.Warn("agent: the SVID in the out directory is unusable; enrolling anew", slog.String("error", err.Error()))
		return nil
	case !cur.valid(now):
		a.log.Warn("agent: the SVID in the out directory has expired; enrolling anew",
			slog.String("spiffe_id", cur.id.String()), slog.Time("not_after", cur.notAfter()))
		return nil
	case !a.s.want.IsZero() && cur.id != a.s.want:
		a.log.Warn("agent: the SVID in the out directory is of another ID; enrolling anew",
			slog.String("spiffe_id", cur.id.String()), slog.String("want", a.s.want.String()))
		return nil
	}
	a.td = cur.td
	return cur
}

// loadCredential reads the credential file and the bundle file. cur, the
// SVID from the out directory or nil, lends its bundle as the anchors when
// client credentials come without --bundle-file.
func (a *Agent) loadCredential(cur *svid) error {
	if a.s.JoinTokenFile != "" {
		tok, err := readSecretFile("--join-token-file", a.s.JoinTokenFile)
		if err != nil {
			return err
		}
		if a.cred, err = joinTokenCredential(tok); err != nil {
			return usagef("--join-token-file %s: %v", a.s.JoinTokenFile, err)
		}
		a.anchors.pin = a.cred.pin
	} else {
		secret, err := readSecretFile("--client-secret-file", a.s.ClientSecretFile)
		if err != nil {
			return err
		}
		a.cred = clientCredential(a.s.ClientID, secret)
	}
	if a.s.BundleFile != "" {
		b, err := readSmall(a.s.BundleFile)
		if err != nil {
			return usagef("--bundle-file %s: %v", a.s.BundleFile, err)
		}
		certs, err := parseCertsPEM(b, maxBundleCerts)
		if err == nil {
			if _, err = bundleTD(certs); errors.Is(err, errUnnamedBundle) {
				err = nil // an imported root: the CA's leaf names the trust domain
			}
		}
		if err != nil {
			return usagef("--bundle-file %s: %v", a.s.BundleFile, err)
		}
		a.anchors.bundle = certs
	}
	if a.anchors.pin == nil && a.anchors.bundle == nil && cur != nil {
		a.anchors.bundle = cur.bundle
	}
	if a.anchors.pin == nil && a.anchors.bundle == nil {
		return usagef("with --client-id the CA's root must be given: --bundle-file FILE (the trust bundle, `rampart ca bundle --format pem`)")
	}
	return nil
}

// startServers starts the socket and metrics listeners; the returned
// function waits for them to stop after ctx ends.
func (a *Agent) startServers(ctx context.Context) (func() error, error) {
	type srv struct {
		l       net.Listener
		h       http.Handler
		cleanup func()
	}
	var srvs []srv
	closeAll := func() {
		for _, s := range srvs {
			s.cleanup()
		}
	}
	if a.s.Socket != "" {
		l, cleanup, err := listenSocket(a.s.Socket)
		if err != nil {
			return nil, err
		}
		sh := &socketHandler{h: a.holder, now: a.s.Now, metrics: a.metrics.handler(), pollMax: longPollMax,
			maxWait: maxWaiters, stopping: ctx.Done()}
		srvs = append(srvs, srv{l, sh.routes(), cleanup})
	}
	if a.s.MetricsListen != "" {
		l, err := net.Listen("tcp", a.s.MetricsListen)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("agent: --metrics-listen %s: %w", a.s.MetricsListen, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.metrics.handler())
		srvs = append(srvs, srv{l, mux, func() { _ = l.Close() }})
	}
	errc := make(chan error, len(srvs))
	for _, s := range srvs {
		go func() { errc <- serveHTTP(ctx, s.l, s.h) }()
	}
	return func() error {
		var errs []error
		for range srvs {
			if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
		closeAll()
		return errors.Join(errs...)
	}, nil
}

// publish makes s current: holder (socket), files, metrics. write is
// false for the SVID loaded from the files themselves.
func (a *Agent) publish(s *svid, write bool) {
	a.holder.set(s)
	a.metrics.expiry.Set(float64(s.notAfter().Unix()))
	a.metrics.expiring.Set(0)
	if write && a.s.OutDir != "" {
		if err := writeSVIDFiles(a.s.OutDir, s); err != nil {
			// The socket still serves it; the next renewal writes again.
			a.log.Error("agent: could not write the SVID files", slog.String("error", err.Error()))
		}
	}
}

// sessionTLS is the client configuration once the agent holds an SVID:
// the CA's chain verified against the current bundle and the CA's SPIFFE
// ID, and the SVID presented as the client certificate (the renewal
// credential; contract.md).
func (a *Agent) sessionTLS(cur *svid) *tls.Config {
	var crls []*x509.RevocationList
	if cur.crl != nil {
		crls = append(crls, cur.crl)
	}
	src := mtls.NewStaticSource(cur.cert, map[spiffeid.TrustDomain][]*x509.Certificate{cur.td: cur.bundle}, crls...)
	return mtls.SPIFFEClientConfig(src, mtls.AuthorizeID(caID(cur.td)), mtls.WithVerifyClock(a.s.Now))
}
