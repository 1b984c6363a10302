package ca

import (
	"context"
	"errors"
	"time"
)

// Background periods.
const (
	reloadEvery = 10 * time.Second
	// keepExpired: certificate records stay 24h past expiry (for Certs
	// --all and incident review), then go.
	keepExpired = 24 * time.Hour
	// retireGrace: a superseded intermediate stays in the bundle at least
	// this long after its successor activated (two reload periods).
	retireGrace = 2 * reloadEvery
)

// Run does the CA's background work until ctx is done, every 10 seconds:
// reload the hierarchy (other nodes rotate and revoke), rotate when the
// newest intermediate has less than a third of its life left (of several
// nodes one wins the conditional insert), refresh the CRL at half its
// validity, and delete certificate records expired more than 24h ago and
// used or expired join tokens. Errors are logged; Run returns ctx's error.
func (a *Authority) Run(ctx context.Context) error {
	t := time.NewTicker(reloadEvery)
	defer t.Stop()
	for {
		a.tick(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// tick is one round of Run.
func (a *Authority) tick(ctx context.Context) {
	log := a.o.Logger
	if err := a.Reload(ctx); err != nil {
		log.Error("ca: reload failed", "error", err.Error())
		return
	}
	now := a.o.Clock()
	if h := a.snapshot(); h.needsRotation(now) {
		info, err := a.rotate(ctx, h, "system")
		switch {
		case errors.Is(err, ErrConflict):
			log.Info("ca: another node rotated the intermediate")
			_ = a.Reload(ctx)
		case err != nil:
			log.Error("ca: automatic rotation failed", "error", err.Error())
		default:
			log.Info("ca: published a new intermediate", "id", info.ID, "activate_at", info.ActivateAt)
		}
	}
	if _, err := a.refreshCRL(ctx, false); err != nil {
		log.Error("ca: crl refresh failed", "error", err.Error())
	}
	if err := a.o.Store.Cleanup(ctx, now.Add(-keepExpired), now); err != nil {
		log.Error("ca: cleanup failed", "error", err.Error())
	}
}
