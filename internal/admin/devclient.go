package admin

import (
	"context"
	"errors"
	"fmt"
)

// DevNotesClient is the confidential client `rampart serve --dev` creates
// for the walk-through of the gateway and the notes example.
const DevNotesClient = "notes-cli"

// EnsureDevClient makes sure the dev walk-through's client exists and
// returns a fresh secret for it: it creates the client on the first dev
// start and rotates its secret on every later one, so the walk-through
// printed at each start works (the secret is shown, never stored in
// clear). Both are audited (client.create, client.rotate_secret). Dev mode
// only: serve calls it when cfg.Dev is set.
func (s *Service) EnsureDevClient(ctx context.Context, spec ClientSpec) (string, error) {
	if s.o.Clients == nil {
		return "", ErrUnavailable
	}
	if spec.ID == "" || spec.Public {
		return "", errors.New("admin: the dev client is confidential and named")
	}
	if _, err := s.o.Clients.GetClient(ctx, spec.ID); err == nil {
		return s.RotateClientSecret(ctx, "system", spec.ID, 0)
	}
	if err := ValidateClient(spec); err != nil {
		return "", err
	}
	_, secret, err := s.CreateClient(ctx, "system", spec)
	if err != nil {
		return "", fmt.Errorf("cannot create the dev client %s: %w", spec.ID, err)
	}
	return secret, nil
}
