// Package oauthrotate is the rotation engine's oauth_client rotator: it
// rotates a stored OAuth client's secret with the OAuth hardening's
// overlap. It lives beside package rotation, not in it, because it needs
// internal/oauth, which imports internal/config, which validates windows
// with package rotation.
package oauthrotate

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secrets/rotation"
)

// Actor is the audit actor of the client use cases the rotator calls.
const Actor = "system:rotation"

// Secrets is the client-secret use case (*admin.Service): it stores the
// hash (oauth.HashSecret) and records client.rotate_secret and
// client.retire_secret.
type Secrets interface {
	SetClientSecret(ctx context.Context, actor, id, secret string, overlap time.Duration) (bool, error)
	RetireClientSecret(ctx context.Context, actor, id string) (bool, error)
}

// Authenticator is the token endpoint's client verification
// (*oauth.Registry).
type Authenticator interface {
	Authenticate(ctx context.Context, id, secret string, presented bool) (*oauth.Client, error)
}

// Options configure a Rotator.
type Options struct {
	ClientID string
	// Overlap is how long the previous secret keeps working after Set
	// (the deployments move to the new one meanwhile); an emergency
	// rotation has none.
	Overlap time.Duration
	Secrets Secrets
	Auth    Authenticator
	Rand    io.Reader // default crypto/rand
}

// Rotator rotates one client's secret.
type Rotator struct{ o Options }

var _ rotation.Rotator = (*Rotator)(nil)

// New checks o and returns the rotator.
func New(o Options) (*Rotator, error) {
	switch {
	case o.ClientID == "":
		return nil, errors.New("oauthrotate: no client id")
	case o.Secrets == nil || o.Auth == nil:
		return nil, errors.New("oauthrotate: no client secret use case or authenticator")
	case o.Overlap < 0:
		return nil, errors.New("oauthrotate: a negative overlap")
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return &Rotator{o: o}, nil
}

// NewValue generates a secret as `rampart client rotate-secret` does
// (oauth.GenerateSecret: 256 bits, base64url).
func (r *Rotator) NewValue(context.Context, secrets.Secret) (secrets.Value, error) {
	s, err := oauth.GenerateSecret(r.o.Rand)
	if err != nil {
		return secrets.Value{}, err
	}
	return secrets.NewValue([]byte(s)), nil
}

// Set makes pending the client's current secret; the old one keeps
// working for the overlap, or stops at once in an emergency (OWASP
// Secrets Management Cheat Sheet: a rotation on suspicion ends the old
// secret). Run again after a crash it changes nothing.
func (r *Rotator) Set(ctx context.Context, _, pending secrets.Secret, emergency bool) error {
	overlap := r.o.Overlap
	if emergency {
		overlap = 0
	}
	if _, err := r.o.Secrets.SetClientSecret(ctx, Actor, r.o.ClientID, string(pending.Value.Bytes()), overlap); err != nil {
		return fmt.Errorf("oauthrotate: set the client secret: %w", err)
	}
	return nil
}

// Test authenticates the client with the pending secret through the
// token endpoint's own verification.
func (r *Rotator) Test(ctx context.Context, pending secrets.Secret) error {
	if _, err := r.o.Auth.Authenticate(ctx, r.o.ClientID, string(pending.Value.Bytes()), true); err != nil {
		return errors.New("oauthrotate: the client does not authenticate with the pending secret")
	}
	return nil
}

// Finish, in an emergency, retires the previous secret (a run that
// became an emergency after its Set had an overlap); otherwise the
// overlap ends by itself.
func (r *Rotator) Finish(ctx context.Context, _, _ secrets.Secret, emergency bool) error {
	if !emergency {
		return nil
	}
	if _, err := r.o.Secrets.RetireClientSecret(ctx, Actor, r.o.ClientID); err != nil {
		return fmt.Errorf("oauthrotate: retire the previous client secret: %w", err)
	}
	return nil
}
