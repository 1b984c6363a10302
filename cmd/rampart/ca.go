package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/app"
	"github.com/rampart-auth/rampart/internal/ca"
	"github.com/rampart-auth/rampart/internal/fsx"
)

// What the CA commands open: the store, the master key (the CA's keys
// are sealed with it; every change is audited) and the CA.
var (
	needCA     = app.CLINeeds{CA: true}
	needCAInit = app.CLINeeds{MasterKey: true}
)

// maxImportFile bounds --cert and --key of `ca init --import`.
const maxImportFile = 1 << 20

func newCACommand() *cobra.Command {
	cmd := &cobra.Command{Use: "ca", Short: "Manage the internal CA: SPIFFE registrations, join tokens, SVIDs, revocation, rotation"}
	cmd.AddCommand(newCAInitCommand(), newCARegisterCommand(), newCATokenCommand(), newCAUnregisterCommand(),
		newCAIssueCommand(), newCARevokeCommand(), newCARotateCommand(), newCAListCommand(), newCABundleCommand())
	return cmd
}

// withCA runs fn with the opened CA of the store of --config.
func withCA(cmd *cobra.Command, path string, fn func(env *app.CLI) error) error {
	env, err := openCLI(cmd, path, needCA)
	if err != nil {
		return err
	}
	defer env.Close(cmd.Context())
	return fn(env)
}

func newCAInitCommand() *cobra.Command {
	var path, td, certFile, keyFile string
	var imp bool
	c := &cobra.Command{
		Use:   "init [--trust-domain TD] [--import --cert FILE --key FILE] [--config FILE]",
		Short: "Create the CA (a root, generated or imported, and the first intermediate); serve also creates it at its first start",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if imp != (certFile != "" && keyFile != "") || !imp && (certFile != "" || keyFile != "") {
				return usageError{errors.New("--import needs --cert FILE and --key FILE, and they go only with --import")}
			}
			cfg, err := loadConfig(path, false)
			if err != nil {
				return err
			}
			if td != "" && td != cfg.CA.TrustDomain {
				return fmt.Errorf("--trust-domain %s differs from ca.trust_domain %q of the configuration; set ca.trust_domain: %s first (serve refuses a CA of another trust domain)", td, cfg.CA.TrustDomain, td)
			}
			var root *ca.ImportedRoot
			if imp {
				root = &ca.ImportedRoot{}
				if root.CertPEM, err = readImport(certFile); err != nil {
					return err
				}
				if root.KeyPEM, err = readImport(keyFile); err != nil {
					return err
				}
				defer clear(root.KeyPEM)
			}
			env, err := app.OpenCLI(cmd.Context(), cfg, app.OSEnv(), needCAInit, cliActor(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer env.Close(cmd.Context())
			a, err := app.InitCA(cmd.Context(), env, root, cmd.ErrOrStderr())
			if errors.Is(err, ca.ErrExists) {
				return fmt.Errorf("the CA is already initialised in this store (ca.trust_domain %s); `rampart ca list` shows it", cfg.CA.TrustDomain)
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			kind := "generated"
			if imp {
				kind = "imported"
			}
			fmt.Fprintf(out, "initialised the CA of trust domain %s: %s root valid until %s\n", a.TrustDomain().Name(), kind, fmtTime(a.Root().NotAfter))
			for _, i := range a.Intermediates() {
				fmt.Fprintf(out, "  intermediate %s (%s) valid until %s\n", i.ID, i.State, fmtTime(i.NotAfter))
			}
			return nil
		},
	}
	addConfigFlag(c, &path)
	c.Flags().StringVar(&td, "trust-domain", "", "the trust domain; must equal ca.trust_domain of the configuration (a check)")
	c.Flags().BoolVar(&imp, "import", false, "import an existing root CA (--cert and --key, PEM) instead of generating one")
	c.Flags().StringVar(&certFile, "cert", "", "the imported root certificate, PEM")
	c.Flags().StringVar(&keyFile, "key", "", "the imported root private key, PEM (P-256 or P-384); sealed with the master key")
	return c
}

// readImport reads an --import file, bounded.
func readImport(path string) ([]byte, error) {
	f, err := os.Open(path) // #nosec G304 -- the operator names the file on the command line.
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxImportFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxImportFile {
		return nil, fmt.Errorf("%s is larger than %d bytes; is it the right file?", path, maxImportFile)
	}
	return b, nil
}

func newCARegisterCommand() *cobra.Command {
	var path, tokenFile string
	var r admin.CARegistration
	c := &cobra.Command{
		Use:   "register --spiffe-id ID [--dns NAME]... [--ttl 1h] [--client-id C] [--join-token [--token-ttl 1h] [--token-file FILE]] [--config FILE]",
		Short: "Register a workload's SPIFFE ID (its DNS names, SVID lifetime, OAuth client), optionally with a one-time join token",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if r.SPIFFEID == "" {
				return usageError{errors.New("--spiffe-id is required")}
			}
			if !r.JoinToken && (tokenFile != "" || cmd.Flags().Changed("token-ttl")) {
				return usageError{errors.New("--token-ttl and --token-file go with --join-token")}
			}
			return withCA(cmd, path, func(env *app.CLI) error {
				res, err := admin.RegisterWorkload(cmd.Context(), env.CA, r, cliActor())
				if res == nil {
					return err
				}
				reg := res.Registration
				info := cmd.OutOrStdout()
				if r.JoinToken {
					info = cmd.ErrOrStderr() // stdout carries the token alone
				}
				ttl := "ca.svid_ttl"
				if reg.TTL > 0 {
					ttl = reg.TTL.String()
				}
				fmt.Fprintf(info, "registered %s (svid ttl %s, dns %s, client %s)\n", reg.ID, ttl, orDash(strings.Join(reg.DNSNames, ",")), orDash(reg.ClientID))
				if err != nil {
					return err
				}
				if r.JoinToken {
					return emitToken(cmd, tokenFile, res.Token, res.TokenExpires)
				}
				return nil
			})
		},
	}
	addConfigFlag(c, &path)
	c.Flags().StringVar(&r.SPIFFEID, "spiffe-id", "", "the workload's SPIFFE ID, spiffe://<trust domain>/<path>")
	c.Flags().StringArrayVar(&r.DNSNames, "dns", nil, "a DNS name the workload's SVID may carry (repeatable)")
	c.Flags().DurationVar(&r.TTL, "ttl", 0, "the SVID lifetime of this workload (default ca.svid_ttl; at most ca.max_svid_ttl)")
	c.Flags().StringVar(&r.ClientID, "client-id", "", "an OAuth client that may obtain this SVID with its client credentials")
	c.Flags().BoolVar(&r.JoinToken, "join-token", false, "also create a one-time join token for this ID")
	c.Flags().DurationVar(&r.TokenTTL, "token-ttl", 0, "the join token's lifetime (default ca.join_token_ttl; at most 1h)")
	c.Flags().StringVar(&tokenFile, "token-file", "", "write the join token to this file (mode 0600) instead of stdout")
	return c
}

func newCATokenCommand() *cobra.Command {
	var path, tokenFile string
	var t admin.CAJoinToken
	c := &cobra.Command{
		Use:   "token (--spiffe-id ID | --pattern 'spiffe://td/svc/*') [--ttl 1h] [--token-file FILE] [--config FILE]",
		Short: "Create a one-time join token for one SPIFFE ID or the IDs under a path",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (t.SPIFFEID == "") == (t.Pattern == "") {
				return usageError{errors.New("give --spiffe-id or --pattern, exactly one")}
			}
			return withCA(cmd, path, func(env *app.CLI) error {
				tok, exp, err := admin.CreateJoinToken(cmd.Context(), env.CA, t, cliActor())
				if err != nil {
					return err
				}
				return emitToken(cmd, tokenFile, tok, exp)
			})
		},
	}
	addConfigFlag(c, &path)
	c.Flags().StringVar(&t.SPIFFEID, "spiffe-id", "", "the one SPIFFE ID the token obtains")
	c.Flags().StringVar(&t.Pattern, "pattern", "", "the IDs the token may obtain: spiffe://<td>/<prefix>/* (the CSR names one)")
	c.Flags().DurationVar(&t.TTL, "ttl", 0, "the token's lifetime (default ca.join_token_ttl; at most 1h)")
	c.Flags().StringVar(&tokenFile, "token-file", "", "write the token to this file (mode 0600) instead of stdout")
	return c
}

// emitToken prints a join token alone on stdout, or writes it to file
// (0600, atomically); either way the expiry goes to stderr.
func emitToken(cmd *cobra.Command, file, token string, expires time.Time) error {
	if file == "" {
		fmt.Fprintln(cmd.OutOrStdout(), token)
	} else {
		if err := fsx.WriteFileAtomic(file, []byte(token+"\n"), 0o600); err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "wrote the join token to %s (mode 0600)\n", file)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "the join token works once, until %s\n", fmtTime(expires))
	return nil
}

func newCAUnregisterCommand() *cobra.Command {
	var path, id string
	c := &cobra.Command{
		Use:   "unregister --spiffe-id ID [--config FILE]",
		Short: "Delete a workload's registration: it can no longer renew or enrol; its SVIDs stay valid until they expire (revoke them to end them now)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if id == "" {
				return usageError{errors.New("--spiffe-id is required")}
			}
			return withCA(cmd, path, func(env *app.CLI) error {
				if err := admin.UnregisterWorkload(cmd.Context(), env.CA, id, cliActor()); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "unregistered %s\n", id)
				return nil
			})
		},
	}
	addConfigFlag(c, &path)
	c.Flags().StringVar(&id, "spiffe-id", "", "the workload's SPIFFE ID")
	return c
}

func newCAIssueCommand() *cobra.Command {
	var path, out string
	var in admin.CAIssue
	c := &cobra.Command{
		Use:   "issue --spiffe-id ID --out DIR [--dns NAME]... [--ttl D] [--config FILE]",
		Short: "Issue an SVID now and write svid.pem, svid.key, bundle.pem and crl.pem to DIR, as the agent does",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in.SPIFFEID == "" || out == "" {
				return usageError{errors.New("--spiffe-id and --out are required")}
			}
			return withCA(cmd, path, func(env *app.CLI) error {
				res, err := admin.IssueSVID(cmd.Context(), env.CA, in, cliActor())
				if err != nil {
					return err
				}
				defer clear(res.KeyPEM)
				if err := writeSVIDFiles(out, res); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "issued %s serial %s, valid until %s; wrote %s/{svid.pem,svid.key,bundle.pem,crl.pem}\n",
					res.SVID.ID, res.SVID.Serial, fmtTime(res.SVID.NotAfter), out)
				return nil
			})
		},
	}
	addConfigFlag(c, &path)
	c.Flags().StringVar(&in.SPIFFEID, "spiffe-id", "", "the SPIFFE ID of the SVID")
	c.Flags().StringVar(&out, "out", "", "the directory to write to (created 0700)")
	c.Flags().StringArrayVar(&in.DNSNames, "dns", nil, "a DNS name of the SVID (repeatable)")
	c.Flags().DurationVar(&in.TTL, "ttl", 0, "the SVID lifetime (default: the registration's, else ca.svid_ttl)")
	return c
}

func newCARevokeCommand() *cobra.Command {
	var path string
	var r admin.CARevocation
	c := &cobra.Command{
		Use:   "revoke (--spiffe-id ID | --serial HEX) [--reason R] [--config FILE]",
		Short: "Revoke one SVID by serial, or every SVID of an ID (which then cannot renew or enrol until registered again); the CRL is updated at once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (r.SPIFFEID == "") == (r.Serial == "") {
				return usageError{errors.New("give --spiffe-id or --serial, exactly one")}
			}
			return withCA(cmd, path, func(env *app.CLI) error {
				n, err := admin.RevokeSVIDs(cmd.Context(), env.CA, r, cliActor())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "revoked %d certificate(s); the new CRL is published, and peers refuse them within ca.crl_validity (%s)\n", n, env.Config.CA.CRLValidity.D())
				return nil
			})
		},
	}
	addConfigFlag(c, &path)
	c.Flags().StringVar(&r.SPIFFEID, "spiffe-id", "", "revoke every unexpired SVID of this ID and block it")
	c.Flags().StringVar(&r.Serial, "serial", "", "revoke the certificate of this serial (hex)")
	c.Flags().StringVar(&r.Reason, "reason", "", "why (kept in the audit trail)")
	return c
}

func newCARotateCommand() *cobra.Command {
	var path string
	c := &cobra.Command{
		Use:   "rotate [--config FILE]",
		Short: "Publish a new intermediate now; it signs after ca.rotation_propagation, and the old one stays in the bundle until its last SVID expired",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withCA(cmd, path, func(env *app.CLI) error {
				info, err := admin.RotateCA(cmd.Context(), env.CA, cliActor())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "published intermediate %s; it signs from %s, valid until %s\n", info.ID, fmtTime(info.ActivateAt), fmtTime(info.NotAfter))
				return nil
			})
		},
	}
	addConfigFlag(c, &path)
	return c
}

// caListing is `ca list --json`.
type caListing struct {
	TrustDomain   string               `json:"trust_domain"`
	Registrations []caRegistrationView `json:"registrations"`
	Intermediates []caIntermediateView `json:"intermediates"`
	Certs         []caCertView         `json:"certs,omitempty"`
}

type caRegistrationView struct {
	SPIFFEID  string    `json:"spiffe_id"`
	DNSNames  []string  `json:"dns_names"`
	TTL       string    `json:"ttl,omitempty"`
	ClientID  string    `json:"client_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

type caIntermediateView struct {
	ID         string    `json:"id"`
	Serial     string    `json:"serial"`
	State      string    `json:"state"`
	NotBefore  time.Time `json:"not_before"`
	NotAfter   time.Time `json:"not_after"`
	ActivateAt time.Time `json:"activate_at"`
}

type caCertView struct {
	Serial    string     `json:"serial"`
	SPIFFEID  string     `json:"spiffe_id"`
	Issuer    string     `json:"issuer"`
	NotBefore time.Time  `json:"not_before"`
	NotAfter  time.Time  `json:"not_after"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

func newCAListCommand() *cobra.Command {
	var path string
	var certs, all, asJSON bool
	c := &cobra.Command{
		Use:   "list [--certs] [--all] [--json] [--config FILE]",
		Short: "List registrations and intermediates; --certs adds the issued certificates (--all: with the expired ones)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if all && !certs {
				return usageError{errors.New("--all goes with --certs")}
			}
			return withCA(cmd, path, func(env *app.CLI) error {
				l, err := listCA(cmd, env, certs, all)
				if err != nil {
					return err
				}
				if asJSON {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					return enc.Encode(l)
				}
				return printCAListing(cmd.OutOrStdout(), l, certs)
			})
		},
	}
	addConfigFlag(c, &path)
	c.Flags().BoolVar(&certs, "certs", false, "also list the issued certificates (unexpired)")
	c.Flags().BoolVar(&all, "all", false, "with --certs: include expired certificates still on record")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func listCA(cmd *cobra.Command, env *app.CLI, certs, all bool) (*caListing, error) {
	ctx := cmd.Context()
	regs, err := env.CA.Registrations(ctx)
	if err != nil {
		return nil, err
	}
	l := &caListing{TrustDomain: env.CA.TrustDomain().Name(), Registrations: []caRegistrationView{}, Intermediates: []caIntermediateView{}}
	for _, i := range env.CA.Intermediates() {
		l.Intermediates = append(l.Intermediates, caIntermediateView{ID: i.ID, Serial: i.Serial, State: i.State, NotBefore: i.NotBefore, NotAfter: i.NotAfter, ActivateAt: i.ActivateAt})
	}
	for _, r := range regs {
		v := caRegistrationView{SPIFFEID: r.ID.String(), DNSNames: r.DNSNames, ClientID: r.ClientID, CreatedAt: r.CreatedAt}
		if v.DNSNames == nil {
			v.DNSNames = []string{}
		}
		if r.TTL > 0 {
			v.TTL = r.TTL.String()
		}
		l.Registrations = append(l.Registrations, v)
	}
	if certs {
		cs, err := env.CA.Certs(ctx, all)
		if err != nil {
			return nil, err
		}
		l.Certs = []caCertView{}
		for _, c := range cs {
			l.Certs = append(l.Certs, caCertView{Serial: c.Serial, SPIFFEID: c.ID.String(), Issuer: c.IssuerID, NotBefore: c.NotBefore, NotAfter: c.NotAfter, RevokedAt: c.RevokedAt})
		}
	}
	return l, nil
}

func printCAListing(w io.Writer, l *caListing, certs bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "trust domain %s\n\nSPIFFE ID\tDNS\tTTL\tCLIENT\tCREATED\n", l.TrustDomain)
	for _, r := range l.Registrations {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.SPIFFEID, orDash(strings.Join(r.DNSNames, ",")), orDash(r.TTL), orDash(r.ClientID), fmtTime(r.CreatedAt))
	}
	fmt.Fprintf(tw, "\nINTERMEDIATE\tSERIAL\tSTATE\tACTIVATES\tNOT AFTER\n")
	for _, i := range l.Intermediates {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", i.ID, i.Serial, i.State, fmtTime(i.ActivateAt), fmtTime(i.NotAfter))
	}
	if certs {
		fmt.Fprintf(tw, "\nSERIAL\tSPIFFE ID\tISSUER\tNOT AFTER\tREVOKED\n")
		for _, c := range l.Certs {
			revoked := "-"
			if c.RevokedAt != nil {
				revoked = fmtTime(*c.RevokedAt)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Serial, c.SPIFFEID, c.Issuer, fmtTime(c.NotAfter), revoked)
		}
	}
	return tw.Flush()
}

func newCABundleCommand() *cobra.Command {
	var path, format string
	c := &cobra.Command{
		Use:   "bundle [--format jwks|pem] [--config FILE]",
		Short: "Print the trust bundle (every X.509 authority of the trust domain): SPIFFE JWKS, or PEM",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "jwks" && format != "pem" {
				return usageError{fmt.Errorf("--format is jwks or pem, not %q", format)}
			}
			return withCA(cmd, path, func(env *app.CLI) error {
				var b []byte
				if format == "pem" {
					b = env.CA.BundlePEM()
				} else {
					var err error
					if b, err = env.CA.BundleJWKS(); err != nil {
						return err
					}
					b = append(b, '\n')
				}
				_, err := cmd.OutOrStdout().Write(b)
				return err
			})
		},
	}
	addConfigFlag(c, &path)
	c.Flags().StringVar(&format, "format", "jwks", "jwks (SPIFFE bundle) or pem")
	return c
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
