package app

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"github.com/redis/go-redis/v9"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/ca"
	"github.com/rampart-auth/rampart/internal/caapi"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/fsx"
	"github.com/rampart-auth/rampart/internal/httpx"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/secretsapi"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
	"github.com/rampart-auth/rampart/ratelimit"
)

// caRateLimitPrefix is the Redis key prefix of the enrolment limit.
const caRateLimitPrefix = "rampart:ca:rl:"

// caMaxHeaderBytes bounds request headers on the enrolment listener: an
// Authorization header and a few standard ones (16 KiB, a quarter of the
// main listener's).
const caMaxHeaderBytes = 16 << 10

// CAOptions are the options of the CA of cfg over db, its keys sealed by
// kr, its actions recorded by al.
func CAOptions(cfg *config.Config, db *sqlstore.DB, kr *kms.Keyring, al ca.Auditor, logger *slog.Logger) (ca.Options, error) {
	td, err := cfg.CA.TrustDomainID()
	if err != nil {
		return ca.Options{}, fmt.Errorf("ca.trust_domain: %w", err)
	}
	c := cfg.CA
	return ca.Options{
		Store: db.CA(), Sealer: kr, Audit: al, TrustDomain: td,
		DefaultSVIDTTL: c.SVIDTTL.D(), MaxSVIDTTL: c.MaxSVIDTTL.D(), IntermediateTTL: c.IntermediateTTL.D(),
		RotationPropagation: c.RotationPropagation.D(), CRLValidity: c.CRLValidity.D(), JoinTokenTTL: c.JoinTokenTTL.D(),
		Logger: logger.With("component", "ca"),
	}, nil
}

// openCA opens the CA at serve start, creating it (root and first
// intermediate) the first time, and writes its root to
// <data_dir>/tls/ca.pem when a listener presents one of its certificates.
func (s *server) openCA(ctx context.Context) error {
	o, err := CAOptions(s.cfg, s.db, s.kr, s.audit, s.logger)
	if err != nil {
		return err
	}
	a, created, err := ca.OpenOrInit(ctx, o)
	if err != nil {
		return err
	}
	s.ca = a
	if created {
		s.logger.Info("created the CA", "trust_domain", a.TrustDomain().Name(), "root_not_after", a.Root().NotAfter)
	}
	if usesCA(s.cfg) {
		path := caFilePath(s.cfg)
		wrote, err := WriteCAFile(path, a.Root())
		if err != nil {
			return err
		}
		if wrote {
			s.logger.Info("wrote the CA root certificate", "file", path)
		}
	}
	return nil
}

// runCA is the CA's background work (reload, auto-rotation, CRL refresh,
// clean-up) until the server stops.
func (s *server) runCA(ctx context.Context) {
	if err := s.ca.Run(ctx); err != nil && ctx.Err() == nil {
		s.logger.Error("ca: background work stopped", "err", err)
	}
}

// usesCA reports whether a listener presents a certificate of the CA: an
// auto-TLS listener or the enrolment listener.
func usesCA(cfg *config.Config) bool {
	return cfg.HTTP.TLS.Mode == config.TLSAuto || cfg.CA.Listen != "" || cfg.Gateway != nil && cfg.Gateway.TLS.Mode == config.TLSAuto
}

// caFilePath is <data_dir>/tls/ca.pem, the root clients trust.
func caFilePath(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "tls", "ca.pem") }

// WriteCAFile writes root as PEM to path (mode 0644, its directory created
// 0700) unless the file already holds exactly that, atomically
// (fsx.WriteFileAtomic), so a reader sees the old root or the new one,
// never a torn file. It reports whether it wrote.
func WriteCAFile(path string, root *x509.Certificate) (bool, error) {
	want := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw})
	if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, want) { // #nosec G304 -- the configured data directory.
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, fmt.Errorf("ca: %w", err)
	}
	// The root is public: what every client of the listeners trusts.
	if err := fsx.WriteFileAtomic(path, want, 0o644); err != nil {
		return false, fmt.Errorf("ca: %w", err)
	}
	return true, nil
}

// caClientAuth authenticates enrolment clients through the authorization
// server's one client authentication path (oauth.AuthenticateBasicClient).
type caClientAuth struct{ as *oauth.Server }

func (c caClientAuth) AuthenticateClient(r *http.Request) (string, error) {
	id, err := c.as.AuthenticateBasicClient(r, audit.ActionCASVIDIssue)
	var ce *oauth.ClientAuthError
	if errors.As(err, &ce) {
		return "", &caapi.AuthError{Status: ce.Status, RetryAfter: ce.RetryAfter, Err: err}
	}
	return id, err
}

var _ caapi.ClientAuthenticator = caClientAuth{}

// newCALimiter is the enrolment limit per client address: in process, or
// fleet-wide in Redis (falling back to in-process counting when Redis
// fails, like the authorization server's limits).
func newCALimiter(cfg *config.Config, rc redis.UniversalClient, logger *slog.Logger) (*ratelimit.Limiter, error) {
	l := cfg.RateLimits.CASVIDPerIP
	var store ratelimit.Store = ratelimit.NewMemoryStore(nil)
	if rc != nil {
		store = ratelimit.NewRedisStore(rc, ratelimit.RedisOptions{Prefix: caRateLimitPrefix,
			Failure: map[string]ratelimit.FailurePolicy{"ca_svid_ip": ratelimit.FailLocal}, Logger: logger})
	}
	return ratelimit.NewLimiter(store, ratelimit.Limit{Name: "ca_svid_ip", Rate: l.Rate, Period: l.Period.D(), Burst: l.Burst})
}

// buildCAAPI builds the CA's HTTP handlers (after the authorization server,
// whose client authentication they use).
func (s *server) buildCAAPI(context.Context) error {
	l, err := newCALimiter(s.cfg, s.redis, s.logger)
	if err != nil {
		return err
	}
	s.caAPI, err = caapi.New(caapi.Options{Authority: s.ca, Clients: caClientAuth{as: s.oauth}, Limiter: l, Audit: s.audit, Logger: s.logger})
	return err
}

// caListener builds the enrolment listener of ca.listen: HTTPS only, TLS
// 1.3, its certificate an SVID of spiffe://<td>/rampart/ca, a client
// certificate requested for renewals and for certificate-bound access
// tokens at the token endpoint's mTLS alias.
func (s *server) caListener(context.Context) (Component, error) {
	c, h := s.cfg.CA, s.cfg.HTTP
	mux := http.NewServeMux()
	s.caAPI.RegisterEnrolment(mux)
	if h := s.oauth.MTLSHandler(); h != nil {
		// The token endpoint's mTLS alias (RFC 8705 §5): the same
		// endpoint, its tokens bound to the client's verified SVID.
		mux.Handle("POST "+oauth.PathToken, h)
	}
	// As on the main listener, outermost first. The client address is the
	// socket peer: a TLS-terminating proxy in front would hide the client
	// certificate a renewal needs, so no forwarding header is believed.
	// The secrets API for workloads: the principal is the peer's
	// verified X509-SVID (secretsapi.PeerAuth), routed on the raw path
	// before the mux and with its own body limit (secretsapi.MaxBodyBytes).
	var routes http.Handler = httpx.LimitBody(caapi.MaxBodyBytes)(httpx.MuxProblems(mux))
	if s.secretsPeerAPI != nil {
		routes = secretsapi.Route(s.secretsPeerAPI, routes)
	}
	handler := httpx.Chain(routes,
		httpx.ClientAddr(nil, ""),
		httpx.RequestID,
		httpx.SecurityHeaders(true),
		httpx.AccessLog(s.logger),
		httpx.Recover(s.logger),
	)
	srv := httpx.NewServer(httpx.ServerOptions{
		Addr: c.Listen, Handler: handler,
		TLSConfig:         caapi.TLSConfig(s.ca.ServerCertSource(c.Hosts, caapi.EnrolmentServerID)),
		ReadHeaderTimeout: h.ReadHeaderTimeout.D(), ReadTimeout: h.ReadTimeout.D(), WriteTimeout: h.WriteTimeout.D(),
		IdleTimeout: h.IdleTimeout.D(), ShutdownTimeout: h.ShutdownTimeout.D(), MaxHeaderBytes: caMaxHeaderBytes, Logger: s.logger,
	})
	s.caListen = &Listener{Name: "ca", Listen: c.Listen, Server: srv, Audit: s.audit, Logger: s.logger,
		Details: map[string]string{"listener": "ca", "tls": "1.3", "trust_domain": s.ca.TrustDomain().Name()}}
	return s.caListen, nil
}

// printCA adds the enrolment listener to the banner, and in dev mode how
// to enrol a workload.
func (s *server) printCA() {
	if s.caListen == nil {
		return
	}
	base := "https://" + s.caListen.Addr().String()
	fmt.Fprintf(s.o.Stdout, "  CA       %s%s   trust domain %s   bundle %s%s\n", base, caapi.PathSVID, s.ca.TrustDomain().Name(), base, caapi.PathBundle)
	if origin, ok := s.cfg.CA.CAAliasOrigin(s.caListen.Addr().String()); ok {
		fmt.Fprintf(s.o.Stdout, "  token    %s%s   (mTLS alias: certificate-bound access tokens, RFC 8705)\n", origin, oauth.PathToken)
	}
	if !s.cfg.Dev {
		return
	}
	td := s.ca.TrustDomain().Name()
	cfgFlag := ""
	if s.cfg.File != "" {
		cfgFlag = " --config " + s.cfg.File
	}
	fmt.Fprintf(s.o.Stdout, "  enrol a workload (in another shell):\n"+
		"      rampart ca register%s --spiffe-id spiffe://%s/svc/demo --join-token --token-file demo.token\n"+
		"      rampart agent --server %s --join-token-file demo.token --out ./svid\n", cfgFlag, td, base)
}
