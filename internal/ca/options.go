package ca

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/kms"
)

// Auditor records audit events (audit.Log implements it).
type Auditor interface {
	Record(ctx context.Context, e audit.Event) error
}

// Defaults and limits of the CA (contract.md), for callers that leave an
// Options field zero. They equal internal/config's defaults of the ca:
// keys, which serve passes explicitly (TestCADefaultsAgree holds them
// equal).
const (
	DefaultSVIDTTL             = time.Hour
	MaxSVIDTTLLimit            = 24 * time.Hour
	DefaultIntermediateTTL     = 720 * time.Hour
	DefaultRotationPropagation = 10 * time.Minute
	DefaultCRLValidity         = 10 * time.Minute
	MaxCRLValidity             = 10 * time.Minute
	MaxJoinTokenTTL            = time.Hour
	RootTTL                    = 10 * 365 * 24 * time.Hour
	// backdate is subtracted from NotBefore of SVIDs and CA certificates so
	// peers whose clocks run a little behind accept them (contract: 1 min).
	backdate = time.Minute
)

// Options configure Init and Open.
type Options struct {
	// Store holds the CA (sqlstore's CAStore); required.
	Store Store
	// Sealer seals the CA private keys (the master key's kms.Keyring); required.
	Sealer kms.Sealer
	// Audit records every CA action; required.
	Audit Auditor
	// TrustDomain is the CA's trust domain; required.
	TrustDomain spiffeid.TrustDomain
	// DefaultSVIDTTL is the lifetime of an SVID whose registration names
	// none (default 1h).
	DefaultSVIDTTL time.Duration
	// MaxSVIDTTL caps every SVID lifetime (default and limit 24h).
	MaxSVIDTTL time.Duration
	// IntermediateTTL is the lifetime of an intermediate (default 720h).
	IntermediateTTL time.Duration
	// RotationPropagation is how long a new intermediate is in the bundle
	// before it signs (default 24h, less than a third of IntermediateTTL).
	RotationPropagation time.Duration
	// CRLValidity is nextUpdate - thisUpdate (default and max 10m).
	CRLValidity time.Duration
	// JoinTokenTTL is the default and max join token lifetime (≤ 1h).
	JoinTokenTTL time.Duration
	// Clock defaults to time.Now.
	Clock func() time.Time
	// Logger defaults to slog.Default.
	Logger *slog.Logger
	// Rand defaults to crypto/rand.Reader.
	Rand io.Reader
}

// withDefaults fills the zero fields and checks the rest.
func (o Options) withDefaults() (Options, error) {
	if o.Store == nil || o.Sealer == nil || o.Audit == nil {
		return o, errors.New("ca: a store, a sealer and an auditor are required")
	}
	if o.TrustDomain.IsZero() {
		return o, errors.New("ca: a trust domain is required")
	}
	if o.DefaultSVIDTTL == 0 {
		o.DefaultSVIDTTL = DefaultSVIDTTL
	}
	if o.MaxSVIDTTL == 0 {
		o.MaxSVIDTTL = MaxSVIDTTLLimit
	}
	if o.IntermediateTTL == 0 {
		o.IntermediateTTL = DefaultIntermediateTTL
	}
	if o.RotationPropagation == 0 {
		o.RotationPropagation = DefaultRotationPropagation
	}
	if o.CRLValidity == 0 {
		o.CRLValidity = DefaultCRLValidity
	}
	if o.JoinTokenTTL == 0 {
		o.JoinTokenTTL = MaxJoinTokenTTL
	}
	switch {
	case o.MaxSVIDTTL < 0 || o.MaxSVIDTTL > MaxSVIDTTLLimit:
		return o, fmt.Errorf("ca: max_svid_ttl %s must be between 1s and 24h", o.MaxSVIDTTL)
	case o.DefaultSVIDTTL < 0 || o.DefaultSVIDTTL > o.MaxSVIDTTL:
		return o, fmt.Errorf("ca: svid_ttl %s must be positive and at most max_svid_ttl %s", o.DefaultSVIDTTL, o.MaxSVIDTTL)
	case o.CRLValidity < 0 || o.CRLValidity > MaxCRLValidity:
		return o, fmt.Errorf("ca: crl_validity %s must be positive and at most 10m", o.CRLValidity)
	case o.JoinTokenTTL < 0 || o.JoinTokenTTL > MaxJoinTokenTTL:
		return o, fmt.Errorf("ca: join_token_ttl %s must be positive and at most 1h", o.JoinTokenTTL)
	case o.IntermediateTTL < 3*o.MaxSVIDTTL:
		return o, fmt.Errorf("ca: intermediate_ttl %s must be at least three times max_svid_ttl %s", o.IntermediateTTL, o.MaxSVIDTTL)
	case o.RotationPropagation < 0 || o.RotationPropagation >= o.IntermediateTTL/3:
		return o, fmt.Errorf("ca: rotation_propagation %s must be positive and less than a third of intermediate_ttl %s", o.RotationPropagation, o.IntermediateTTL)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return o, nil
}
