package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/redisx"
	"github.com/rampart-auth/rampart/internal/store"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
	"github.com/rampart-auth/rampart/jwtauth"
)

// adminEnv is what the client and user commands need. Each command opens
// only what it uses (issue 10, item 18a): `client list` needs the store
// alone, so it runs in a shell where the clients' secret_env variables and
// the master key are not set.
type adminEnv struct {
	cfg   *config.Config
	kr    *kms.Keyring // nil unless needs.MasterKey
	store *sqlstore.DB
	audit *audit.Log // nil unless needs.MasterKey (the audit trail is keyed by it)
	parts *authParts
	// revoker writes every deny list serve writes; built only with
	// needs.Redis, from the resolved redis URL.
	revoker oauth.Revoker
	rdb     interface{ Close() error }
}

// adminNeeds name what a command resolves. The store is always needed.
var (
	needStore     = config.Needs{Store: true}
	needMasterKey = config.Needs{Store: true, MasterKey: true}
	// needRevoke: revoking writes the shared Redis deny list whenever
	// Redis is configured, as serve does; an unset redis.url_env is an
	// error, never a reason to skip it (issue 10, item 15).
	needRevoke = config.Needs{Store: true, MasterKey: true, Redis: true}
)

func openAdminEnv(cmd *cobra.Command, path string, need config.Needs) (*adminEnv, error) {
	ctx := cmd.Context()
	cfg, err := loadConfig(path, false)
	if err != nil {
		return nil, err
	}
	need.Store = true
	res, err := cfg.Resolve(osEnv(), need)
	if err != nil {
		return nil, err
	}
	env := &adminEnv{cfg: cfg}
	var mk *kms.MasterKey
	if need.MasterKey {
		if mk, err = loadMasterKey(cfg, res, false, cmd.ErrOrStderr()); err != nil {
			return nil, err
		}
	}
	// Redis before the store, so a command that cannot reach it changes
	// nothing.
	var shared oauth.DenyPublisher
	if res.RedisURL != "" {
		rc, err := redisx.Open(ctx, res.RedisURL)
		if err != nil {
			return nil, err
		}
		env.rdb = rc
		shared = jwtauth.NewRedisDenyList(rc, DenyListPrefix)
	}
	if env.store, err = openCheckedStore(ctx, cfg, res.StoreDSN); err != nil {
		env.close(ctx)
		return nil, err
	}
	env.revoker = oauth.Revoker{Store: env.store.OAuth(), Shared: shared}
	if mk != nil {
		if env.kr, err = openKeyring(ctx, env.store, mk); err != nil {
			env.close(ctx)
			return nil, err
		}
		if env.audit, err = openAudit(cfg, env.store, env.kr, newCLILogger(cfg, cmd.ErrOrStderr()), nil); err != nil {
			env.close(ctx)
			return nil, err
		}
	}
	// No CLI command uses a client secret: the file's clients are built
	// without them (listed, their ids reserved, never authenticated).
	if env.parts, err = newAuthParts(cfg, env.store, env.kr, nil); err != nil {
		env.close(ctx)
		return nil, err
	}
	return env, nil
}

func (e *adminEnv) close(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if e.audit != nil {
		_ = e.audit.Close(cctx)
	}
	if e.store != nil {
		_ = e.store.Close()
	}
	if e.rdb != nil {
		_ = e.rdb.Close()
	}
}

func (e *adminEnv) record(ctx context.Context, action, target string, details map[string]string) error {
	if e.audit == nil {
		return errors.New("internal error: the command did not open the audit log")
	}
	return e.audit.Record(ctx, audit.Event{Actor: cliActor(), Action: action, Target: target, Outcome: audit.OutcomeSuccess, Details: details})
}

// clientView is how the CLI shows a client (never a secret or its hash).
type clientView struct {
	ID             string   `json:"client_id"`
	Type           string   `json:"type"`
	Source         string   `json:"source"`
	GrantTypes     []string `json:"grant_types"`
	RedirectURIs   []string `json:"redirect_uris,omitempty"`
	Scopes         []string `json:"scopes,omitempty"`
	Audience       []string `json:"audience,omitempty"`
	SkipConsent    bool     `json:"skip_consent"`
	ResourceServer bool     `json:"resource_server"`
	AccessTTL      string   `json:"access_token_ttl,omitempty"`
	RefreshTTL     string   `json:"refresh_token_ttl,omitempty"`
	CreatedAt      string   `json:"created_at,omitempty"`
	Secret         string   `json:"client_secret,omitempty"`
}

func viewOf(c *oauth.Client) clientView {
	v := clientView{ID: c.ID, Type: "confidential", Source: c.Source, GrantTypes: c.GrantTypes, RedirectURIs: c.RedirectURIs,
		Scopes: c.Scopes, Audience: c.Audience, SkipConsent: c.SkipConsent, ResourceServer: c.ResourceServer}
	if c.Public {
		v.Type = "public"
	}
	if c.AccessTokenTTL > 0 {
		v.AccessTTL = c.AccessTokenTTL.String()
	}
	if c.RefreshTokenTTL > 0 {
		v.RefreshTTL = c.RefreshTokenTTL.String()
	}
	if !c.CreatedAt.IsZero() {
		v.CreatedAt = c.CreatedAt.UTC().Format(time.RFC3339)
	}
	return v
}

func printClient(w io.Writer, v clientView, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v) // #nosec G117 -- the generated secret is shown once to the operator who created it, by design
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "client_id:\t%s\n", v.ID)
	if v.Secret != "" {
		fmt.Fprintf(tw, "client_secret:\t%s\n", v.Secret)
	}
	fmt.Fprintf(tw, "type:\t%s\nsource:\t%s\ngrant_types:\t%s\n", v.Type, v.Source, strings.Join(v.GrantTypes, " "))
	fmt.Fprintf(tw, "redirect_uris:\t%s\nscopes:\t%s\naudience:\t%s\n", strings.Join(v.RedirectURIs, " "), strings.Join(v.Scopes, " "), strings.Join(v.Audience, " "))
	fmt.Fprintf(tw, "skip_consent:\t%v\nresource_server:\t%v\n", v.SkipConsent, v.ResourceServer)
	if v.CreatedAt != "" {
		fmt.Fprintf(tw, "created_at:\t%s\n", v.CreatedAt)
	}
	return tw.Flush()
}

// idArg takes the client id from --id or the one positional argument.
func idArg(flagID string, args []string) (string, error) {
	switch {
	case flagID != "" && len(args) > 0:
		return "", usageError{errors.New("give the client id once: as an argument or with --id")}
	case flagID != "":
		return flagID, nil
	case len(args) == 1:
		return args[0], nil
	}
	return "", usageError{errors.New("the client id is required")}
}

func newClientCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "client", Short: "Manage OAuth clients"}
	cmd.AddCommand(newClientCreate(), newClientList(), newClientShow(), newClientDelete(), newClientRotate())
	return cmd
}

func newClientCreate() *cobra.Command {
	var (
		path, id                 string
		public, skip, rs, asJSON bool
		grants, scopes, aud      []string
		redirects                []string
		accessTTL, refreshTTL    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "create [--id ID] --grant-type TYPE... [--public] [--redirect-uri URI...] [--scope S...] [--audience A...]",
		Short: "Register a client; a confidential client's secret is printed once",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if id != "" {
					return usageError{errors.New("give the client id once: as an argument or with --id")}
				}
				id = args[0]
			}
			ctx := cmd.Context()
			if id == "" {
				var err error
				if id, err = identity.NewID(rand.Reader); err != nil {
					return err
				}
			}
			cc := config.Client{ID: id, Public: public, GrantTypes: grants, RedirectURIs: redirects, Scopes: splitSpaces(scopes),
				Audience: aud, SkipConsent: skip, ResourceServer: rs, AccessTokenTTL: config.Duration(accessTTL), RefreshTokenTTL: config.Duration(refreshTTL)}
			if !public {
				cc.SecretEnv = "generated" // satisfies the structural check; the secret is generated below
			}
			probe := config.Config{Clients: []config.Client{cc}}
			if err := probe.ValidateClients(); err != nil {
				return usageError{err}
			}
			env, err := openAdminEnv(cmd, path, needMasterKey)
			if err != nil {
				return err
			}
			defer env.close(ctx)
			if env.parts.clients.IsConfigured(id) {
				return fmt.Errorf("client %s is defined in the configuration file; choose another id", id)
			}
			now := time.Now().UTC()
			c := &oauth.Client{ID: id, Public: public, GrantTypes: grants, RedirectURIs: redirects, Scopes: cc.Scopes, Audience: aud,
				SkipConsent: skip, ResourceServer: rs, AccessTokenTTL: accessTTL, RefreshTokenTTL: refreshTTL,
				Source: oauth.SourceCLI, CreatedAt: now, UpdatedAt: now}
			if err := oauth.CheckClient(c); err != nil {
				return usageError{err}
			}
			var secret string
			if !public {
				if secret, err = oauth.GenerateSecret(rand.Reader); err != nil {
					return err
				}
				c.SecretHash = oauth.HashSecret(env.kr.DataKey(kms.DataKeyClientSecret), secret)
			}
			if err := env.store.OAuth().CreateClient(ctx, c); err != nil {
				if errors.Is(err, store.ErrConflict) {
					return fmt.Errorf("client %s already exists", id)
				}
				return err
			}
			if err := env.record(ctx, "client.create", "client:"+id, map[string]string{"grant_types": strings.Join(grants, " "), "public": fmt.Sprint(public)}); err != nil {
				return err
			}
			v := viewOf(c)
			v.Secret = secret
			if err := printClient(cmd.OutOrStdout(), v, asJSON); err != nil {
				return err
			}
			if secret != "" && !asJSON {
				fmt.Fprintln(cmd.ErrOrStderr(), "The secret is shown only now; Rampart stores only a keyed hash of it.")
			}
			return nil
		},
	}
	addConfigFlag(cmd, &path)
	f := cmd.Flags()
	f.StringVar(&id, "id", "", "client id (default: generated)")
	f.BoolVar(&public, "public", false, "a public client (browser or native app): no secret, PKCE only")
	f.StringSliceVar(&grants, "grant-type", nil, "allowed grant type: authorization_code, client_credentials, refresh_token (repeat or comma-separate)")
	f.StringArrayVar(&redirects, "redirect-uri", nil, "exact redirect URI (repeat for several)")
	f.StringSliceVar(&scopes, "scope", nil, "allowed scope (repeat, comma- or space-separate)")
	f.StringSliceVar(&aud, "audience", nil, "allowed access-token audience (repeat or comma-separate)")
	f.BoolVar(&skip, "skip-consent", false, "first-party client: do not ask users for consent")
	f.BoolVar(&rs, "resource-server", false, "may introspect every token, not only those for its own audience")
	f.DurationVar(&accessTTL, "access-token-ttl", 0, "access token lifetime (default: tokens.access_token_ttl)")
	f.DurationVar(&refreshTTL, "refresh-token-ttl", 0, "refresh token family lifetime (default: tokens.refresh_token_ttl)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	// Plural spellings (as in the YAML keys) are accepted too.
	f.StringSliceVar(&grants, "grant-types", nil, "same as --grant-type")
	f.StringArrayVar(&redirects, "redirect-uris", nil, "same as --redirect-uri")
	f.StringSliceVar(&scopes, "scopes", nil, "same as --scope")
	f.StringVar(&id, "client-id", "", "same as --id")
	for _, n := range []string{"grant-types", "redirect-uris", "scopes", "client-id"} {
		_ = f.MarkHidden(n)
	}
	return cmd
}

func splitSpaces(in []string) []string {
	var out []string
	for _, s := range in {
		out = append(out, strings.Fields(s)...)
	}
	return out
}

func newClientList() *cobra.Command {
	var (
		path   string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List clients (configuration and store)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env, err := openAdminEnv(cmd, path, needStore)
			if err != nil {
				return err
			}
			defer env.close(cmd.Context())
			stored, err := env.store.OAuth().ListClients(cmd.Context())
			if err != nil {
				return err
			}
			views := []clientView{}
			for _, c := range env.parts.clients.Configured() {
				views = append(views, viewOf(c))
			}
			for i := range stored {
				views = append(views, viewOf(&stored[i]))
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(views) // #nosec G117 -- Secret is empty in list output; omitempty
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CLIENT_ID\tTYPE\tSOURCE\tGRANT_TYPES\tSCOPES")
			for _, v := range views {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.ID, v.Type, v.Source, strings.Join(v.GrantTypes, ","), strings.Join(v.Scopes, ","))
			}
			return tw.Flush()
		},
	}
	addConfigFlag(cmd, &path)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newClientShow() *cobra.Command {
	var (
		path, id string
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "show ID [--json]",
		Short: "Show a client",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cid, err := idArg(id, args)
			if err != nil {
				return err
			}
			env, err := openAdminEnv(cmd, path, needStore)
			if err != nil {
				return err
			}
			defer env.close(cmd.Context())
			c, err := env.parts.clients.Get(cmd.Context(), cid)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no client %s", cid)
			}
			if err != nil {
				return err
			}
			return printClient(cmd.OutOrStdout(), viewOf(c), asJSON)
		},
	}
	addConfigFlag(cmd, &path)
	cmd.Flags().StringVar(&id, "id", "", "client id")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newClientDelete() *cobra.Command {
	var path, id string
	cmd := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a client and revoke every token it holds",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cid, err := idArg(id, args)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			env, err := openAdminEnv(cmd, path, needRevoke)
			if err != nil {
				return err
			}
			defer env.close(ctx)
			if env.parts.clients.IsConfigured(cid) {
				return fmt.Errorf("client %s is defined in the configuration file; remove it there", cid)
			}
			tokens, err := env.store.OAuth().DeleteClient(ctx, cid, time.Now().UTC())
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no client %s", cid)
			}
			if err != nil {
				return err
			}
			if err := env.revoker.Revoke(ctx, tokens); err != nil {
				return fmt.Errorf("client deleted, but denying its access tokens failed: %w", err)
			}
			if err := env.record(ctx, "client.delete", "client:"+cid, map[string]string{"revoked_access_tokens": fmt.Sprint(len(tokens))}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted client %s; revoked its refresh tokens and %d live access tokens\n", cid, len(tokens))
			return nil
		},
	}
	addConfigFlag(cmd, &path)
	cmd.Flags().StringVar(&id, "id", "", "client id")
	return cmd
}

func newClientRotate() *cobra.Command {
	var (
		path, id string
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "rotate-secret ID [--json]",
		Short: "Replace a confidential client's secret; the new one is printed once and the old one stops working",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cid, err := idArg(id, args)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			env, err := openAdminEnv(cmd, path, needMasterKey)
			if err != nil {
				return err
			}
			defer env.close(ctx)
			if env.parts.clients.IsConfigured(cid) {
				return fmt.Errorf("client %s is defined in the configuration file; change its secret there", cid)
			}
			c, err := env.store.OAuth().GetClient(ctx, cid)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no client %s", cid)
			}
			if err != nil {
				return err
			}
			if c.Public {
				return fmt.Errorf("client %s is public and has no secret", cid)
			}
			secret, err := oauth.GenerateSecret(rand.Reader)
			if err != nil {
				return err
			}
			if err := env.store.OAuth().UpdateClientSecret(ctx, cid, oauth.HashSecret(env.kr.DataKey(kms.DataKeyClientSecret), secret), time.Now().UTC()); err != nil {
				return err
			}
			if err := env.record(ctx, "client.rotate_secret", "client:"+cid, nil); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(map[string]string{"client_id": cid, "client_secret": secret})
			}
			fmt.Fprintf(out, "client_id:      %s\nclient_secret:  %s\n", cid, secret)
			fmt.Fprintln(cmd.ErrOrStderr(), "The secret is shown only now; the previous secret no longer works.")
			return nil
		},
	}
	addConfigFlag(cmd, &path)
	cmd.Flags().StringVar(&id, "id", "", "client id")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
