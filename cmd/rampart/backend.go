package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/adminclient"
	"github.com/rampart-auth/rampart/internal/app"
)

// adminBackend is what the client and user commands do: on the store
// (--config, the use cases in-process) or on a running server (--issuer
// and a token, through its admin API, which runs the same use cases).
type adminBackend interface {
	ListClients(ctx context.Context) ([]admin.ClientView, error)
	GetClient(ctx context.Context, id string) (admin.ClientView, error)
	CreateClient(ctx context.Context, spec admin.ClientSpec) (admin.ClientView, error)
	DeleteClient(ctx context.Context, id string) (int, error)
	RotateClientSecret(ctx context.Context, id string, overlap time.Duration) (string, error)
	RetireClientSecret(ctx context.Context, id string) (bool, error)
	CreateUser(ctx context.Context, username, password, role string) (admin.UserView, error)
	// lifecycle2: client disabling, user disable/enable/list, password reset.
	DisableClient(ctx context.Context, id string) (int, error)
	EnableClient(ctx context.Context, id string) error
	ListUsers(ctx context.Context, after string, limit int) ([]admin.UserView, error)
	UserByName(ctx context.Context, username string) (admin.UserView, error)
	DisableUser(ctx context.Context, id string) (admin.Ended, error)
	EnableUser(ctx context.Context, id string) error
	ResetPassword(ctx context.Context, id, password string) (admin.Ended, error)
	Close(ctx context.Context)
}

// remoteFlags are the flags that point a command at a running server.
type remoteFlags struct {
	issuer, tokenFile string
}

func addRemoteFlags(cmd *cobra.Command, r *remoteFlags) {
	cmd.Flags().StringVar(&r.issuer, "issuer", "", "act on the running server at this issuer URL (its admin API) instead of the store")
	cmd.Flags().StringVar(&r.tokenFile, "token-file", "", "with --issuer: the access token (the JSON `rampart login --output FILE` writes, or the bare token); default $RAMPART_TOKEN")
}

// openBackend opens the store (path, need) or, with --issuer, the remote
// admin API.
func openBackend(cmd *cobra.Command, path string, r remoteFlags, need app.CLINeeds) (adminBackend, error) {
	if r.issuer == "" {
		if r.tokenFile != "" {
			return nil, usageError{errors.New("--token-file goes with --issuer")}
		}
		env, err := openCLI(cmd, path, need)
		if err != nil {
			return nil, err
		}
		return localBackend{env: env, actor: cliActor()}, nil
	}
	if path != "" {
		return nil, usageError{errors.New("give either --config (act on the store) or --issuer (act on a running server), not both")}
	}
	tok, err := adminclient.LoadToken(r.tokenFile, os.Getenv("RAMPART_TOKEN"))
	if err != nil {
		return nil, usageError{err}
	}
	c, err := adminclient.New(r.issuer, tok, nil)
	if err != nil {
		return nil, usageError{err}
	}
	return remoteBackend{c}, nil
}

// localBackend runs the use cases on the store.
type localBackend struct {
	env   *app.CLI
	actor string
}

func (l localBackend) ListClients(ctx context.Context) ([]admin.ClientView, error) {
	return l.env.Admin.ListClients(ctx)
}

func (l localBackend) GetClient(ctx context.Context, id string) (admin.ClientView, error) {
	return l.env.Admin.GetClient(ctx, id)
}

func (l localBackend) CreateClient(ctx context.Context, spec admin.ClientSpec) (admin.ClientView, error) {
	c, secret, err := l.env.Admin.CreateClient(ctx, l.actor, spec)
	if err != nil {
		return admin.ClientView{}, err
	}
	v := admin.ViewClient(c)
	v.Secret = secret
	return v, nil
}

func (l localBackend) DeleteClient(ctx context.Context, id string) (int, error) {
	return l.env.Admin.DeleteClient(ctx, l.actor, id)
}

func (l localBackend) RotateClientSecret(ctx context.Context, id string, overlap time.Duration) (string, error) {
	return l.env.Admin.RotateClientSecret(ctx, l.actor, id, overlap)
}

func (l localBackend) RetireClientSecret(ctx context.Context, id string) (bool, error) {
	return l.env.Admin.RetireClientSecret(ctx, l.actor, id)
}

func (l localBackend) CreateUser(ctx context.Context, username, password, role string) (admin.UserView, error) {
	u, err := l.env.Admin.CreateUser(ctx, l.actor, username, password, role)
	if err != nil {
		return admin.UserView{}, err
	}
	return admin.ViewUser(u), nil
}

func (l localBackend) DisableClient(ctx context.Context, id string) (int, error) {
	return l.env.Admin.DisableClient(ctx, l.actor, id)
}

func (l localBackend) EnableClient(ctx context.Context, id string) error {
	return l.env.Admin.EnableClient(ctx, l.actor, id)
}

func (l localBackend) ListUsers(ctx context.Context, after string, limit int) ([]admin.UserView, error) {
	return l.env.Admin.ListUsers(ctx, after, limit)
}

func (l localBackend) UserByName(ctx context.Context, username string) (admin.UserView, error) {
	return l.env.Admin.GetUserByName(ctx, username)
}

func (l localBackend) DisableUser(ctx context.Context, id string) (admin.Ended, error) {
	return l.env.Admin.DisableUser(ctx, l.actor, id)
}

func (l localBackend) EnableUser(ctx context.Context, id string) error {
	return l.env.Admin.EnableUser(ctx, l.actor, id)
}

func (l localBackend) ResetPassword(ctx context.Context, id, password string) (admin.Ended, error) {
	return l.env.Admin.ResetPassword(ctx, l.actor, id, password)
}

func (l localBackend) Close(ctx context.Context) { l.env.Close(ctx) }

// remoteBackend calls the admin API.
type remoteBackend struct{ c *adminclient.Client }

func (r remoteBackend) ListClients(ctx context.Context) ([]admin.ClientView, error) {
	return r.c.ListClients(ctx)
}

func (r remoteBackend) GetClient(ctx context.Context, id string) (admin.ClientView, error) {
	return r.c.GetClient(ctx, id)
}

func (r remoteBackend) CreateClient(ctx context.Context, spec admin.ClientSpec) (admin.ClientView, error) {
	return r.c.CreateClient(ctx, spec)
}

func (r remoteBackend) DeleteClient(ctx context.Context, id string) (int, error) {
	return r.c.DeleteClient(ctx, id)
}

func (r remoteBackend) RotateClientSecret(ctx context.Context, id string, overlap time.Duration) (string, error) {
	return r.c.RotateClientSecret(ctx, id, overlap)
}

func (r remoteBackend) RetireClientSecret(ctx context.Context, id string) (bool, error) {
	return r.c.RetireClientSecret(ctx, id)
}

func (r remoteBackend) CreateUser(ctx context.Context, username, password, role string) (admin.UserView, error) {
	return r.c.CreateUser(ctx, username, password, role)
}

func (r remoteBackend) DisableClient(ctx context.Context, id string) (int, error) {
	return r.c.DisableClient(ctx, id)
}

func (r remoteBackend) EnableClient(ctx context.Context, id string) error {
	return r.c.EnableClient(ctx, id)
}

func (r remoteBackend) ListUsers(ctx context.Context, after string, limit int) ([]admin.UserView, error) {
	return r.c.ListUsers(ctx, after, limit)
}

func (r remoteBackend) UserByName(ctx context.Context, username string) (admin.UserView, error) {
	return r.c.UserByName(ctx, username)
}

func (r remoteBackend) DisableUser(ctx context.Context, id string) (admin.Ended, error) {
	return r.c.DisableUser(ctx, id)
}

func (r remoteBackend) EnableUser(ctx context.Context, id string) error {
	return r.c.EnableUser(ctx, id)
}

func (r remoteBackend) ResetPassword(ctx context.Context, id, password string) (admin.Ended, error) {
	return r.c.ResetPassword(ctx, id, password)
}

func (remoteBackend) Close(context.Context) {}
