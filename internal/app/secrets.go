package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secretsapi"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
	"github.com/rampart-auth/rampart/mtls"
)

// SecretsStack is the secrets manager of a process (serve or a CLI
// command) and its optional engines.
type SecretsStack struct {
	Manager  *secrets.Manager
	Policies *secrets.Policies
	// Leases and Rotations are the dynamic-credential and rotation
	// engines; nil when not wired (their API routes answer 404).
	Leases    secretsapi.Leases
	Rotations secretsapi.Rotations
}

// SecretPolicies compiles cfg's secrets.policies (secrets.CompilePolicies:
// what serve enforces is exactly what config check accepted).
func SecretPolicies(cfg *config.Config) (*secrets.Policies, error) {
	rules := make([]secrets.PolicyRule, len(cfg.Secrets.Policies))
	for i, p := range cfg.Secrets.Policies {
		rules[i] = secrets.PolicyRule{Name: p.Name, Paths: slices.Clone(p.Paths), Capabilities: slices.Clone(p.Capabilities),
			Clients: slices.Clone(p.Clients), Roles: slices.Clone(p.Roles), SPIFFEIDs: slices.Clone(p.SPIFFEIDs), Scopes: slices.Clone(p.Scopes)}
	}
	ps, err := secrets.CompilePolicies(rules)
	if err != nil {
		return nil, fmt.Errorf("config: secrets.policies: %w", err)
	}
	return ps, nil
}

// OpenSecrets builds the secrets manager of cfg over db: values sealed
// by kr, their audit HMAC keyed by kr's secret-audit data key, every
// operation recorded by al. serve and the CLI both build it here.
func OpenSecrets(cfg *config.Config, db *sqlstore.DB, kr *kms.Keyring, al secrets.Auditor, logger *slog.Logger) (*SecretsStack, error) {
	if kr == nil || al == nil {
		return nil, errors.New("secrets: the keyring and the audit log are required")
	}
	ps, err := SecretPolicies(cfg)
	if err != nil {
		return nil, err
	}
	m, err := secrets.New(secrets.Options{Store: db.Secrets(), Sealer: kr, AuditKey: kr.DataKey(kms.DataKeySecretAudit), Audit: al,
		Policies: ps, KeepVersions: cfg.Secrets.KeepVersions, Logger: logger.With("component", "secrets")})
	if err != nil {
		return nil, err
	}
	return &SecretsStack{Manager: m, Policies: ps}, nil
}

// API builds the secrets API over the stack for auth.
func (s *SecretsStack) API(auth secretsapi.Authenticator, al secretsapi.Auditor, logger *slog.Logger) (*secretsapi.API, error) {
	return secretsapi.New(secretsapi.Options{Secrets: s.Manager, Leases: s.Leases, Rotations: s.Rotations, Auth: auth, Audit: al, Logger: logger})
}

// openSecrets is serve's secrets component (after the audit log).
func (s *server) openSecrets(context.Context) error {
	st, err := OpenSecrets(s.cfg, s.db, s.kr, s.audit, s.logger)
	s.secrets = st
	return err
}

// buildSecretsAPI builds the API of the main listener (access tokens of
// this issuer) and, with ca.listen, of the enrolment listener (the
// peer's X509-SVID), after the authorization server.
func (s *server) buildSecretsAPI(context.Context) error {
	var err error
	s.secretsAPI, err = s.secrets.API(&secretsapi.TokenAuth{Issuer: s.cfg.Issuer, Verifier: s.oauth, Users: s.parts.Users,
		DenyList: oauth.NewStoreDenyList(s.db.OAuth(), nil)}, s.audit, s.logger)
	if err != nil {
		return err
	}
	if s.cfg.CA.Listen != "" {
		s.secretsPeerAPI, err = s.secrets.API(secretsapi.PeerAuth{Verifier: &svidPeer{b: &svidBinder{ca: s.ca, now: time.Now}}}, s.audit, s.logger)
	}
	return err
}

// svidPeer verifies a secrets API caller's client certificate on
// ca.listen exactly as the token endpoint's mTLS alias does (svidBinder:
// the CA's current bundle and CRL, clientAuth), and returns its ID.
type svidPeer struct{ b *svidBinder }

var _ secretsapi.PeerVerifier = (*svidPeer)(nil)

func (p *svidPeer) VerifyPeer(r *http.Request) (spiffeid.ID, error) {
	if _, present, err := p.b.Thumbprint(r); err != nil || !present {
		if err == nil {
			err = errors.New("app: no client certificate")
		}
		return spiffeid.ID{}, err
	}
	id, ok := mtls.PeerID(r.TLS)
	if !ok {
		return spiffeid.ID{}, errors.New("app: the client certificate has no SPIFFE ID")
	}
	return id, nil
}
