package main

import (
	"context"
	"errors"
	"io"
	"os"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/rampart-auth/rampart/internal/adminclient"
	"github.com/rampart-auth/rampart/internal/app"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secretsapi"
	"github.com/rampart-auth/rampart/internal/secretsclient"
)

// secretBackend is what `rampart secret` does: on the store (--config:
// the manager in process, as the administrator "cli", holding the master
// key) or on a running server (--issuer and a token: its secrets API,
// under the token's policies). Both answer the API's documents, so
// --json prints the same thing either way.
type secretBackend interface {
	Get(ctx context.Context, path secrets.Path, version int64, label string) (secretsapi.SecretDoc, error)
	Put(ctx context.Context, path secrets.Path, value []byte, o putOptions) (secretsapi.WrittenDoc, error)
	Metadata(ctx context.Context, path secrets.Path) (secretsapi.MetadataDoc, error)
	List(ctx context.Context, prefix string) (secretsapi.ListDoc, error)
	MoveLabel(ctx context.Context, path secrets.Path, label string, version int64, expect *int64) error
	RemoveLabel(ctx context.Context, path secrets.Path, label string, expect *int64) error
	Versions(ctx context.Context, op string, path secrets.Path, versions []int64) error
	Rotate(ctx context.Context, path secrets.Path, now bool, reason string) (secretsapi.StatusDoc, error)
	CreateLease(ctx context.Context, path secrets.Path, ttl time.Duration) (secretsapi.LeaseDoc, error)
	RenewLease(ctx context.Context, id string, ttl time.Duration) (secretsapi.LeaseDoc, error)
	RevokeLease(ctx context.Context, id string) error
	ListLeases(ctx context.Context, path secrets.Path) (secretsapi.LeasesDoc, error)
	Close(ctx context.Context)
}

type putOptions struct {
	cas      *int64
	labels   []string
	metadata map[string]string
}

// secretFlags point a secret command at the store or a server.
type secretFlags struct {
	config string
	remote remoteFlags
}

func addSecretFlags(cmd *cobra.Command, f *secretFlags) {
	cmd.PersistentFlags().StringVar(&f.config, "config", "", "act on the store of this configuration (holds the master key; acts as the administrator \"cli\")")
	cmd.PersistentFlags().StringVar(&f.remote.issuer, "issuer", "", "act on the running server at this issuer URL (its secrets API, under the token's policies)")
	cmd.PersistentFlags().StringVar(&f.remote.tokenFile, "token-file", "", "with --issuer: the access token (the JSON that rampart login --output FILE writes, or the bare token); default $RAMPART_TOKEN")
}

// openSecretBackend opens the store (--config) or the remote API
// (--issuer).
func openSecretBackend(cmd *cobra.Command, f secretFlags) (secretBackend, error) {
	switch {
	case f.remote.issuer == "" && f.config == "":
		return nil, usageError{errors.New("give --config FILE (act on the store) or --issuer URL --token-file FILE (act on a running server)")}
	case f.remote.issuer != "" && f.config != "":
		return nil, usageError{errors.New("give either --config (act on the store) or --issuer (act on a running server), not both")}
	case f.remote.issuer == "" && f.remote.tokenFile != "":
		return nil, usageError{errors.New("--token-file goes with --issuer")}
	case f.remote.issuer != "":
		tok, err := adminclient.LoadToken(f.remote.tokenFile, os.Getenv("RAMPART_TOKEN"))
		if err != nil {
			return nil, usageError{err}
		}
		if tok == "" {
			return nil, usageError{errors.New("no access token: pass --token-file (the output of `rampart login --output FILE`) or set RAMPART_TOKEN")}
		}
		c, err := secretsclient.New(f.remote.issuer, tok, nil)
		if err != nil {
			return nil, usageError{err}
		}
		return remoteSecrets{c}, nil
	}
	env, err := openCLI(cmd, f.config, app.CLINeeds{MasterKey: true})
	if err != nil {
		return nil, err
	}
	st, err := app.OpenSecrets(env.Config, env.DB, env.Keyring, env.Audit, app.NewCLILogger(env.Config, cmd.ErrOrStderr()))
	if err != nil {
		env.Close(cmd.Context())
		return nil, err
	}
	return &localSecrets{env: env, st: st, p: secrets.Principal{Kind: secrets.KindAdmin}, stderr: cmd.ErrOrStderr()}, nil
}

// remoteSecrets calls the secrets API.
type remoteSecrets struct{ c *secretsclient.Client }

func (r remoteSecrets) Get(ctx context.Context, path secrets.Path, version int64, label string) (secretsapi.SecretDoc, error) {
	return r.c.Get(ctx, string(path), version, label)
}

func (r remoteSecrets) Put(ctx context.Context, path secrets.Path, value []byte, o putOptions) (secretsapi.WrittenDoc, error) {
	req := secretsapi.PutRequest{CAS: o.cas, Labels: o.labels, Metadata: o.metadata}
	if utf8.Valid(value) {
		s := string(value)
		req.Value = &s
	} else {
		s := base64Std(value)
		req.ValueBase64 = &s
	}
	return r.c.Put(ctx, string(path), req)
}

func (r remoteSecrets) Metadata(ctx context.Context, path secrets.Path) (secretsapi.MetadataDoc, error) {
	return r.c.Metadata(ctx, string(path))
}

func (r remoteSecrets) List(ctx context.Context, prefix string) (secretsapi.ListDoc, error) {
	return r.c.List(ctx, prefix)
}

func (r remoteSecrets) MoveLabel(ctx context.Context, path secrets.Path, label string, version int64, expect *int64) error {
	return r.c.MoveLabel(ctx, string(path), label, version, expect)
}

func (r remoteSecrets) RemoveLabel(ctx context.Context, path secrets.Path, label string, expect *int64) error {
	return r.c.RemoveLabel(ctx, string(path), label, expect)
}

func (r remoteSecrets) Versions(ctx context.Context, op string, path secrets.Path, versions []int64) error {
	return r.c.Versions(ctx, op, string(path), versions)
}

func (r remoteSecrets) Rotate(ctx context.Context, path secrets.Path, now bool, reason string) (secretsapi.StatusDoc, error) {
	return r.c.Rotate(ctx, string(path), now, reason)
}

func (r remoteSecrets) CreateLease(ctx context.Context, path secrets.Path, ttl time.Duration) (secretsapi.LeaseDoc, error) {
	return r.c.CreateLease(ctx, string(path), ttl)
}

func (r remoteSecrets) RenewLease(ctx context.Context, id string, ttl time.Duration) (secretsapi.LeaseDoc, error) {
	return r.c.RenewLease(ctx, id, ttl)
}

func (r remoteSecrets) RevokeLease(ctx context.Context, id string) error {
	return r.c.RevokeLease(ctx, id)
}

func (r remoteSecrets) ListLeases(ctx context.Context, path secrets.Path) (secretsapi.LeasesDoc, error) {
	return r.c.ListLeases(ctx, string(path))
}

func (remoteSecrets) Close(context.Context) {}

// localSecrets runs the manager on the store.
type localSecrets struct {
	env    *app.CLI
	st     *app.SecretsStack
	p      secrets.Principal
	stderr io.Writer
	eng    *app.SecretEngines // opened by the first rotate or lease command
}

// errNoEngine: the configuration has no dynamic credentials for the
// lease commands.
var errNoEngine = errors.New("no dynamic credentials are configured (secrets.dynamic)")

// engines opens the rotation and dynamic-credential engines once, on the
// first command that needs them: only rotate and lease resolve
// secrets.databases' DSNs, so get and put run without them.
func (l *localSecrets) engines(ctx context.Context) error {
	if l.eng != nil {
		return nil
	}
	res, err := l.env.Config.Resolve(app.OSEnv(), config.Needs{SecretDatabases: true})
	if err != nil {
		return err
	}
	eng, err := app.OpenSecretEngines(ctx, l.env.Config, l.env.DB, l.st, l.env.Audit, l.env.SecretEngineDeps(res), app.NewCLILogger(l.env.Config, l.stderr))
	if err != nil {
		return err
	}
	l.eng = eng
	return nil
}

func (l *localSecrets) Get(ctx context.Context, path secrets.Path, version int64, label string) (secretsapi.SecretDoc, error) {
	s, err := l.st.Manager.Get(ctx, l.p, path, secrets.Selector{Version: version, Label: label})
	if err != nil {
		return secretsapi.SecretDoc{}, err
	}
	return secretsapi.DocOfSecret(s), nil
}

func (l *localSecrets) Put(ctx context.Context, path secrets.Path, value []byte, o putOptions) (secretsapi.WrittenDoc, error) {
	info, err := l.st.Manager.Put(ctx, l.p, path, secrets.NewValue(value), secrets.PutOptions{CAS: o.cas, Labels: o.labels, Metadata: o.metadata})
	if err != nil {
		return secretsapi.WrittenDoc{}, err
	}
	return secretsapi.DocOfWritten(path, info), nil
}

func (l *localSecrets) Metadata(ctx context.Context, path secrets.Path) (secretsapi.MetadataDoc, error) {
	meta, vs, err := l.st.Manager.Versions(ctx, l.p, path)
	if err != nil {
		return secretsapi.MetadataDoc{}, err
	}
	return secretsapi.DocOfMeta(meta, vs), nil
}

func (l *localSecrets) List(ctx context.Context, prefix string) (secretsapi.ListDoc, error) {
	if prefix == "" {
		prefix = "*"
	}
	pre, err := secrets.ParsePrefix(prefix)
	if err != nil {
		return secretsapi.ListDoc{}, err
	}
	metas, err := l.st.Manager.List(ctx, l.p, pre)
	if err != nil {
		return secretsapi.ListDoc{}, err
	}
	return secretsapi.DocOfList(metas), nil
}

func (l *localSecrets) MoveLabel(ctx context.Context, path secrets.Path, label string, version int64, expect *int64) error {
	return l.st.Manager.MoveLabel(ctx, l.p, path, label, version, expect)
}

func (l *localSecrets) RemoveLabel(ctx context.Context, path secrets.Path, label string, expect *int64) error {
	return l.st.Manager.RemoveLabel(ctx, l.p, path, label, expect)
}

func (l *localSecrets) Versions(ctx context.Context, op string, path secrets.Path, versions []int64) error {
	switch op {
	case "delete":
		return l.st.Manager.Delete(ctx, l.p, path, versions)
	case "undelete":
		return l.st.Manager.Undelete(ctx, l.p, path, versions)
	default:
		return l.st.Manager.Destroy(ctx, l.p, path, versions)
	}
}

func (l *localSecrets) Rotate(ctx context.Context, path secrets.Path, now bool, reason string) (secretsapi.StatusDoc, error) {
	if err := l.engines(ctx); err != nil {
		return secretsapi.StatusDoc{}, err
	}
	st, err := l.st.Rotations.Rotate(ctx, l.p, path, rotationRequest(now, reason))
	return secretsapi.StatusOf(st), err
}

func (l *localSecrets) CreateLease(ctx context.Context, path secrets.Path, ttl time.Duration) (secretsapi.LeaseDoc, error) {
	if err := l.engines(ctx); err != nil {
		return secretsapi.LeaseDoc{}, err
	}
	if l.st.Leases == nil {
		return secretsapi.LeaseDoc{}, errNoEngine
	}
	lease, err := l.st.Leases.Create(ctx, l.p, path, ttl)
	if err != nil {
		return secretsapi.LeaseDoc{}, err
	}
	doc := secretsapi.LeaseOf(lease)
	pw := string(lease.Password.Bytes())
	doc.Password = &pw
	return doc, nil
}

func (l *localSecrets) RenewLease(ctx context.Context, id string, ttl time.Duration) (secretsapi.LeaseDoc, error) {
	if err := l.engines(ctx); err != nil {
		return secretsapi.LeaseDoc{}, err
	}
	if l.st.Leases == nil {
		return secretsapi.LeaseDoc{}, errNoEngine
	}
	lease, err := l.st.Leases.Renew(ctx, l.p, id, ttl)
	return secretsapi.LeaseOf(lease), err
}

func (l *localSecrets) RevokeLease(ctx context.Context, id string) error {
	if err := l.engines(ctx); err != nil {
		return err
	}
	if l.st.Leases == nil {
		return errNoEngine
	}
	return l.st.Leases.Revoke(ctx, l.p, id)
}

func (l *localSecrets) ListLeases(ctx context.Context, path secrets.Path) (secretsapi.LeasesDoc, error) {
	if err := l.engines(ctx); err != nil {
		return secretsapi.LeasesDoc{}, err
	}
	if l.st.Leases == nil {
		return secretsapi.LeasesDoc{}, errNoEngine
	}
	ls, err := l.st.Leases.List(ctx, l.p, path)
	if err != nil {
		return secretsapi.LeasesDoc{}, err
	}
	doc := secretsapi.LeasesDoc{Leases: make([]secretsapi.LeaseDoc, len(ls))}
	for i, x := range ls {
		doc.Leases[i] = secretsapi.LeaseOf(x)
	}
	return doc, nil
}

func (l *localSecrets) Close(ctx context.Context) {
	if l.eng != nil {
		l.eng.Close()
	}
	l.env.Close(ctx)
}
