package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/app"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/store"
)

// What the client commands open (app.CLINeeds): `client list` and `show`
// need the store alone; create and rotate-secret the master key (the
// secret's HMAC key and the audit log); delete also Redis, to deny the
// client's access tokens fleet-wide.
var (
	needStore     = app.CLINeeds{}
	needMasterKey = app.CLINeeds{MasterKey: true}
	needRevoke    = app.CLINeeds{MasterKey: true, Redis: true}
)

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
	DisplayName    string   `json:"display_name,omitempty"`
	LogoURI        string   `json:"logo_uri,omitempty"`
	PolicyURI      string   `json:"policy_uri,omitempty"`
	TOSURI         string   `json:"tos_uri,omitempty"`
	PostLogout     []string `json:"post_logout_redirect_uris,omitempty"`
	CreatedAt      string   `json:"created_at,omitempty"`
	Secret         string   `json:"client_secret,omitempty"`
}

func viewOf(c *oauth.Client) clientView {
	v := clientView{ID: c.ID, Type: "confidential", Source: c.Source, GrantTypes: c.GrantTypes, RedirectURIs: c.RedirectURIs,
		Scopes: c.Scopes, Audience: c.Audience, SkipConsent: c.SkipConsent, ResourceServer: c.ResourceServer,
		DisplayName: c.DisplayName, LogoURI: c.LogoURI, PolicyURI: c.PolicyURI, TOSURI: c.TOSURI, PostLogout: c.PostLogoutRedirectURIs}
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
	for _, kv := range [][2]string{{"display_name", v.DisplayName}, {"logo_uri", v.LogoURI}, {"policy_uri", v.PolicyURI}, {"tos_uri", v.TOSURI},
		{"post_logout_redirect_uris", strings.Join(v.PostLogout, " ")}} {
		if kv[1] != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
		}
	}
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

// clientCreate holds the flags of `client create`.
type clientCreate struct {
	path   string
	asJSON bool
	spec   admin.ClientSpec
}

func newClientCreate() *cobra.Command {
	var cc clientCreate
	cmd := &cobra.Command{
		Use:   "create [--id ID] --grant-type TYPE... [--public] [--redirect-uri URI...] [--scope S...] [--audience A...]",
		Short: "Register a client; a confidential client's secret is printed once",
		Args:  cobra.MaximumNArgs(1),
		RunE:  cc.run,
	}
	addConfigFlag(cmd, &cc.path)
	cc.flags(cmd.Flags())
	return cmd
}

func (cc *clientCreate) flags(f *pflag.FlagSet) {
	sp := &cc.spec
	f.StringVar(&sp.ID, "id", "", "client id (default: generated)")
	f.BoolVar(&sp.Public, "public", false, "a public client (browser or native app): no secret, PKCE only")
	f.StringSliceVar(&sp.GrantTypes, "grant-type", nil, "allowed grant type: authorization_code, client_credentials, refresh_token (repeat or comma-separate)")
	f.StringArrayVar(&sp.RedirectURIs, "redirect-uri", nil, "exact redirect URI (repeat for several)")
	f.StringSliceVar(&sp.Scopes, "scope", nil, "allowed scope (repeat, comma- or space-separate)")
	f.StringSliceVar(&sp.Audience, "audience", nil, "allowed access-token audience (repeat or comma-separate)")
	f.BoolVar(&sp.SkipConsent, "skip-consent", false, "first-party client: do not ask users for consent")
	f.BoolVar(&sp.ResourceServer, "resource-server", false, "may introspect every token, not only those for its own audience")
	f.DurationVar(&sp.AccessTokenTTL, "access-token-ttl", 0, "access token lifetime (default: tokens.access_token_ttl)")
	f.DurationVar(&sp.RefreshTokenTTL, "refresh-token-ttl", 0, "refresh token family lifetime (default: tokens.refresh_token_ttl)")
	f.StringVar(&sp.DisplayName, "display-name", "", "the name pages show (default: the id)")
	f.StringVar(&sp.LogoURI, "logo-uri", "", "https URL of the client's logo, shown on the consent page")
	f.StringVar(&sp.PolicyURI, "policy-uri", "", "https URL of the client's privacy policy")
	f.StringVar(&sp.TOSURI, "tos-uri", "", "https URL of the client's terms of service")
	f.StringArrayVar(&sp.PostLogoutRedirectURIs, "post-logout-redirect-uri", nil, "exact URI RP-initiated logout may return to (repeat for several)")
	f.BoolVar(&cc.asJSON, "json", false, "print JSON")
	// Plural spellings (as in the YAML keys) are accepted too.
	f.StringSliceVar(&sp.GrantTypes, "grant-types", nil, "same as --grant-type")
	f.StringArrayVar(&sp.RedirectURIs, "redirect-uris", nil, "same as --redirect-uri")
	f.StringSliceVar(&sp.Scopes, "scopes", nil, "same as --scope")
	f.StringVar(&sp.ID, "client-id", "", "same as --id")
	for _, n := range []string{"grant-types", "redirect-uris", "scopes", "client-id"} {
		_ = f.MarkHidden(n)
	}
}

func (cc *clientCreate) run(cmd *cobra.Command, args []string) error {
	spec := cc.spec
	if len(args) == 1 {
		if spec.ID != "" {
			return usageError{errors.New("give the client id once: as an argument or with --id")}
		}
		spec.ID = args[0]
	}
	spec.Scopes = splitSpaces(spec.Scopes)
	ctx := cmd.Context()
	if spec.ID == "" {
		var err error
		if spec.ID, err = identity.NewID(rand.Reader); err != nil {
			return err
		}
	}
	// Input mistakes are refused before anything is opened (exit 2).
	if err := admin.ValidateClient(spec); err != nil {
		return usageError{err}
	}
	env, err := openCLI(cmd, cc.path, needMasterKey)
	if err != nil {
		return err
	}
	defer env.Close(ctx)
	c, secret, err := env.Admin.CreateClient(ctx, cliActor(), spec)
	if err != nil {
		return err
	}
	v := viewOf(c)
	v.Secret = secret
	if err := printClient(cmd.OutOrStdout(), v, cc.asJSON); err != nil {
		return err
	}
	if secret != "" && !cc.asJSON {
		fmt.Fprintln(cmd.ErrOrStderr(), "The secret is shown only now; Rampart stores only a keyed hash of it.")
	}
	return nil
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
			env, err := openCLI(cmd, path, needStore)
			if err != nil {
				return err
			}
			defer env.Close(cmd.Context())
			stored, err := env.DB.OAuth().ListClients(cmd.Context())
			if err != nil {
				return err
			}
			views := []clientView{}
			for _, c := range env.Parts.Clients.Configured() {
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
			env, err := openCLI(cmd, path, needStore)
			if err != nil {
				return err
			}
			defer env.Close(cmd.Context())
			c, err := env.Parts.Clients.Get(cmd.Context(), cid)
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
			env, err := openCLI(cmd, path, needRevoke)
			if err != nil {
				return err
			}
			defer env.Close(ctx)
			n, err := env.Admin.DeleteClient(ctx, cliActor(), cid)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted client %s; revoked its refresh tokens and %d live access tokens\n", cid, n)
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
			env, err := openCLI(cmd, path, needMasterKey)
			if err != nil {
				return err
			}
			defer env.Close(ctx)
			secret, err := env.Admin.RotateClientSecret(ctx, cliActor(), cid)
			if err != nil {
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
