package admin

import (
	"context"
	"errors"
	"fmt"

	"github.com/rampart-auth/rampart/internal/config"
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

// DevCLIClient is the public client `rampart serve --dev` registers for
// `rampart login` (the device flow) and the CLI's --issuer commands.
const DevCLIClient = "rampart-cli"

// EnsureDevCLIClient registers the dev-mode CLI client on the first dev
// start (audited client.create) and leaves it alone afterwards. It may ask
// for the admin scope: what a token can do with it is still the admin
// API's check (an administrator's sign-in with MFA).
func (s *Service) EnsureDevCLIClient(ctx context.Context) error {
	if s.o.Clients == nil {
		return ErrUnavailable
	}
	if _, err := s.o.Clients.GetClient(ctx, DevCLIClient); err == nil {
		return nil
	}
	_, _, err := s.CreateClient(ctx, "system", ClientSpec{ID: DevCLIClient, Public: true,
		GrantTypes: []string{config.GrantDeviceCode}, Scopes: []string{"openid", "profile", "rampart:admin"},
		DisplayName: "Rampart command line"})
	if err != nil {
		return fmt.Errorf("cannot create the dev CLI client %s: %w", DevCLIClient, err)
	}
	return nil
}
