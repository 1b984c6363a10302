package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/app"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/identity"
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

func printClient(w io.Writer, v admin.ClientView, asJSON bool) error {
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
	if v.RequireMFA {
		fmt.Fprintf(tw, "require_mfa:\t%v\n", v.RequireMFA)
	}
	if v.RequireDPoP {
		fmt.Fprintf(tw, "require_dpop:\t%v\n", v.RequireDPoP)
	}
	if v.CertBound {
		fmt.Fprintf(tw, "certificate_bound_access_tokens:\t%v\n", v.CertBound)
	}
	if v.AuthMethod != "" {
		fmt.Fprintf(tw, "token_endpoint_auth_method:\t%s\n", v.AuthMethod)
	}
	if v.JWKSURI != "" {
		fmt.Fprintf(tw, "jwks_uri:\t%s\n", v.JWKSURI)
	}
	if v.RequirePAR {
		fmt.Fprintf(tw, "require_pushed_authorization_requests:\ttrue\n")
	}
	for _, kv := range [][2]string{{"display_name", v.DisplayName}, {"logo_uri", v.LogoURI}, {"policy_uri", v.PolicyURI}, {"tos_uri", v.TOSURI},
		{"post_logout_redirect_uris", strings.Join(v.PostLogout, " ")}} {
		if kv[1] != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
		}
	}
	if v.Profile != "" {
		fmt.Fprintf(tw, "profile:\t%s\n", v.Profile)
	}
	if v.Disabled {
		fmt.Fprintf(tw, "disabled:\ttrue\n")
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
	cmd.AddCommand(newClientCreate(), newClientList(), newClientShow(), newClientDelete(), newClientRotate(), newClientRetire(),
		newClientToggle(true), newClientToggle(false))
	return cmd
}

// clientCreate holds the flags of `client create`.
type clientCreate struct {
	path     string
	remote   remoteFlags
	asJSON   bool
	jwksURI  string
	jwksFile string
	spec     admin.ClientSpec
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
	addRemoteFlags(cmd, &cc.remote)
	cc.flags(cmd.Flags())
	return cmd
}

func (cc *clientCreate) flags(f *pflag.FlagSet) {
	sp := &cc.spec
	f.StringVar(&sp.ID, "id", "", "client id (default: generated)")
	f.BoolVar(&sp.Public, "public", false, "a public client (browser or native app): no secret, PKCE only")
	f.StringSliceVar(&sp.GrantTypes, "grant-type", nil, "allowed grant type: authorization_code, client_credentials, refresh_token, urn:ietf:params:oauth:grant-type:device_code (repeat or comma-separate)")
	f.StringArrayVar(&sp.RedirectURIs, "redirect-uri", nil, "exact redirect URI (repeat for several)")
	f.StringSliceVar(&sp.Scopes, "scope", nil, "allowed scope (repeat, comma- or space-separate)")
	f.StringSliceVar(&sp.Audience, "audience", nil, "allowed access-token audience (repeat or comma-separate)")
	f.BoolVar(&sp.SkipConsent, "skip-consent", false, "first-party client: do not ask users for consent")
	f.BoolVar(&sp.RequireMFA, "require-mfa", false, "every sign-in for the client needs the TOTP second factor")
	f.BoolVar(&sp.ResourceServer, "resource-server", false, "may introspect every token, not only those for its own audience")
	f.BoolVar(&sp.RequireDPoP, "require-dpop", false, "token requests must carry a DPoP proof (RFC 9449): every token is sender-constrained")
	f.BoolVar(&sp.CertBound, "certificate-bound-access-tokens", false, "token requests must come to the mTLS alias (ca.listen) with a valid SVID (RFC 8705): every token is bound to the certificate")
	f.DurationVar(&sp.AccessTokenTTL, "access-token-ttl", 0, "access token lifetime (default: tokens.access_token_ttl)")
	f.DurationVar(&sp.RefreshTokenTTL, "refresh-token-ttl", 0, "refresh token family lifetime (default: tokens.refresh_token_ttl)")
	f.StringVar(&sp.AuthMethod, "auth-method", "", "token endpoint authentication: client_secret_basic, client_secret_post, private_key_jwt or none (default: a secret in Basic or the form; none for --public)")
	f.StringVar(&cc.jwksURI, "jwks-uri", "", "private_key_jwt: the URL of the client's JWK Set (https, or http on loopback)")
	f.StringVar(&cc.jwksFile, "jwks-file", "", "private_key_jwt: a file with the client's JWK Set (public keys, JSON)")
	f.BoolVar(&sp.RequirePAR, "require-par", false, "the client must push its authorization requests (PAR, RFC 9126)")
	f.StringVar(&sp.DisplayName, "display-name", "", "the name pages show (default: the id)")
	f.StringVar(&sp.LogoURI, "logo-uri", "", "https URL of the client's logo, shown on the consent page")
	f.StringVar(&sp.PolicyURI, "policy-uri", "", "https URL of the client's privacy policy")
	f.StringVar(&sp.TOSURI, "tos-uri", "", "https URL of the client's terms of service")
	f.StringArrayVar(&sp.PostLogoutRedirectURIs, "post-logout-redirect-uri", nil, "exact URI RP-initiated logout may return to (repeat for several)")
	f.StringVar(&sp.Profile, "profile", "", "fapi2: the client follows the FAPI 2.0 Security Profile (private_key_jwt, PAR, DPoP, https redirect URIs)")
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
	if cc.jwksURI != "" && cc.jwksFile != "" {
		return usageError{errors.New("give --jwks-uri or --jwks-file, not both")}
	}
	spec.JWKSURI = cc.jwksURI
	if cc.jwksFile != "" {
		b, err := os.ReadFile(cc.jwksFile) // #nosec G304 -- a path the operator names on the command line
		if err != nil {
			return usageError{fmt.Errorf("--jwks-file: %w", err)}
		}
		spec.JWKS = bytes.TrimSpace(b)
	}
	if (spec.JWKSURI != "" || spec.JWKS != nil) && spec.AuthMethod == "" {
		spec.AuthMethod = config.AuthMethodPrivateKeyJWT
	}
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
	be, err := openBackend(cmd, cc.path, cc.remote, needMasterKey)
	if err != nil {
		return err
	}
	defer be.Close(ctx)
	v, err := be.CreateClient(ctx, spec)
	if err != nil {
		return err
	}
	secret := v.Secret
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
		remote remoteFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List clients (configuration and store)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			be, err := openBackend(cmd, path, remote, needStore)
			if err != nil {
				return err
			}
			defer be.Close(cmd.Context())
			views, err := be.ListClients(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(views) // #nosec G117 -- Secret is empty in list output; omitempty
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CLIENT_ID\tTYPE\tSOURCE\tGRANT_TYPES\tSCOPES\tDISABLED")
			for _, v := range views {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\n", v.ID, v.Type, v.Source, strings.Join(v.GrantTypes, ","), strings.Join(v.Scopes, ","), v.Disabled)
			}
			return tw.Flush()
		},
	}
	addConfigFlag(cmd, &path)
	addRemoteFlags(cmd, &remote)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// clientCommand is a command acting on one client named by an argument
// or --id, on the store (--config) or a running server (--issuer): it
// checks the id, opens the backend with need and hands both to run.
// Callers add their own flags to the returned command.
func clientCommand(use, short string, need app.CLINeeds, run func(cmd *cobra.Command, be adminBackend, id string) error) *cobra.Command {
	var (
		path, id string
		remote   remoteFlags
	)
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cid, err := idArg(id, args)
			if err != nil {
				return err
			}
			be, err := openBackend(cmd, path, remote, need)
			if err != nil {
				return err
			}
			defer be.Close(cmd.Context())
			return run(cmd, be, cid)
		},
	}
	addConfigFlag(cmd, &path)
	addRemoteFlags(cmd, &remote)
	cmd.Flags().StringVar(&id, "id", "", "client id")
	return cmd
}

func newClientShow() *cobra.Command {
	var asJSON bool
	cmd := clientCommand("show ID [--json]", "Show a client", needStore, func(cmd *cobra.Command, be adminBackend, id string) error {
		v, err := be.GetClient(cmd.Context(), id)
		if err != nil {
			return err
		}
		return printClient(cmd.OutOrStdout(), v, asJSON)
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newClientDelete() *cobra.Command {
	return clientCommand("delete ID", "Delete a client and revoke every token it holds", needRevoke, func(cmd *cobra.Command, be adminBackend, id string) error {
		n, err := be.DeleteClient(cmd.Context(), id)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "deleted client %s; revoked its refresh tokens and %d live access tokens\n", id, n)
		return nil
	})
}

func newClientRotate() *cobra.Command {
	var (
		asJSON  bool
		overlap time.Duration
	)
	cmd := clientCommand("rotate-secret ID [--overlap 24h] [--json]",
		"Replace a confidential client's secret; the new one is printed once, the old one stops at once or after --overlap",
		needMasterKey, func(cmd *cobra.Command, be adminBackend, id string) error {
			secret, err := be.RotateClientSecret(cmd.Context(), id, overlap)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(map[string]string{"client_id": id, "client_secret": secret})
			}
			fmt.Fprintf(out, "client_id:      %s\nclient_secret:  %s\n", id, secret)
			if overlap > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "The secret is shown only now; the previous secret keeps working for %s (end it sooner with `rampart client retire-secret %s`).\n", overlap, id)
			} else {
				fmt.Fprintln(cmd.ErrOrStderr(), "The secret is shown only now; the previous secret no longer works.")
			}
			return nil
		})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().DurationVar(&overlap, "overlap", 0, "keep the old secret valid this long (e.g. 24h, at most 168h) so deployments can move to the new one")
	// A bad --overlap is refused before anything is opened (exit 2).
	cmd.PreRunE = func(*cobra.Command, []string) error {
		if overlap < 0 || overlap > admin.MaxSecretOverlap {
			return usageError{fmt.Errorf("--overlap must be from 0 to %s", admin.MaxSecretOverlap)}
		}
		return nil
	}
	return cmd
}

func newClientRetire() *cobra.Command {
	return clientCommand("retire-secret ID", "End the overlap of a client's previous secret now (after rotate-secret --overlap)", needMasterKey,
		func(cmd *cobra.Command, be adminBackend, id string) error {
			had, err := be.RetireClientSecret(cmd.Context(), id)
			if err != nil {
				return err
			}
			if had {
				fmt.Fprintf(cmd.OutOrStdout(), "retired the previous secret of client %s; only the current one works\n", id)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "client %s had no previous secret in its overlap window; nothing changed\n", id)
			}
			return nil
		})
}
