package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secrets/rotation"
)

// maxValueInput bounds what put reads (the manager refuses more than
// secrets.MaxValueSize; one byte over tells it apart).
const maxValueInput = secrets.MaxValueSize + 1

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func rotationRequest(now bool, reason string) rotation.Request {
	return rotation.Request{Now: now, Reason: reason}
}

// pathArg parses a secret path argument (a usage error when invalid).
func pathArg(s string) (secrets.Path, error) {
	p, err := secrets.ParsePath(s)
	if err != nil {
		return "", usageError{err}
	}
	return p, nil
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

func newSecretCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "secret", Short: "Store, read, version, label, rotate and lease secrets (--config FILE, or --issuer URL --token-file FILE)"}
	var f secretFlags
	addSecretFlags(cmd, &f)
	cmd.AddCommand(secretPutCommand(&f), secretGetCommand(&f), secretListCommand(&f), secretVersionsCommand(&f), secretLabelCommand(&f),
		secretVersionsOpCommand(&f, "delete", "Soft-delete versions (default: the current one); undelete restores them"),
		secretVersionsOpCommand(&f, "undelete", "Restore soft-deleted versions (default: the current one)"),
		secretVersionsOpCommand(&f, "destroy", "Erase versions for good (--version N..., or --all for the whole secret)"),
		secretRotateCommand(&f), secretLeaseCommand(&f), secretRenderCommand(&f))
	return cmd
}

func secretPutCommand(f *secretFlags) *cobra.Command {
	var (
		fromStdin bool
		file      string
		cas       int64
		labels    []string
		meta      []string
	)
	c := &cobra.Command{
		Use:   "put PATH (--value-stdin | --value-file FILE) [--cas N] [--label L]... [--meta k=v]...",
		Short: "Write a new version of a secret (the value never goes on the command line)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := pathArg(args[0])
			if err != nil {
				return err
			}
			if fromStdin == (file != "") {
				// Values never go on the command line, where ps and
				// shell history would keep them.
				return usageError{errors.New("give exactly one of --value-stdin and --value-file")}
			}
			o := putOptions{labels: labels}
			if cmd.Flags().Changed("cas") {
				o.cas = &cas
			}
			if len(meta) > 0 {
				o.metadata = map[string]string{}
				for _, kv := range meta {
					k, v, ok := strings.Cut(kv, "=")
					if !ok || k == "" {
						return usageError{fmt.Errorf("--meta %q is not key=value", k)}
					}
					o.metadata[k] = v
				}
			}
			var in io.Reader = cmd.InOrStdin()
			if file != "" {
				fh, err := os.Open(file) // #nosec G304 -- the operator names the file holding the value
				if err != nil {
					return fmt.Errorf("--value-file: %w", err)
				}
				defer fh.Close()
				in = fh
			}
			value, err := io.ReadAll(io.LimitReader(in, maxValueInput))
			if err != nil {
				return fmt.Errorf("reading the value: %w", err)
			}
			defer clear(value)
			be, err := openSecretBackend(cmd, *f)
			if err != nil {
				return err
			}
			defer be.Close(cmd.Context())
			w, err := be.Put(cmd.Context(), path, value, o)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s version %d (labels %s)\n", w.Path, w.Version, strings.Join(w.Labels, ","))
			return nil
		},
	}
	c.Flags().BoolVar(&fromStdin, "value-stdin", false, "read the value from stdin (every byte, a trailing newline included)")
	c.Flags().StringVar(&file, "value-file", "", "read the value from this file (every byte)")
	c.Flags().Int64Var(&cas, "cas", 0, "check-and-set: write only if the newest version is N (0: only if the secret does not exist)")
	c.Flags().StringArrayVar(&labels, "label", nil, "label the new version (default current); repeatable")
	c.Flags().StringArrayVar(&meta, "meta", nil, "replace the secret's metadata with k=v pairs; repeatable")
	return c
}

func secretGetCommand(f *secretFlags) *cobra.Command {
	var (
		version int64
		label   string
		asJSON  bool
	)
	c := &cobra.Command{
		Use:   "get PATH [--version N | --label L] [--json]",
		Short: "Read a secret: its raw value on stdout (or the API's JSON document with --json)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := pathArg(args[0])
			if err != nil {
				return err
			}
			if version < 0 || version > 0 && label != "" {
				return usageError{errors.New("give --version N (positive) or --label L, not both")}
			}
			be, err := openSecretBackend(cmd, *f)
			if err != nil {
				return err
			}
			defer be.Close(cmd.Context())
			doc, err := be.Get(cmd.Context(), path, version, label)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), doc)
			}
			b, err := doc.Bytes()
			if err != nil {
				return err
			}
			defer clear(b)
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	c.Flags().Int64Var(&version, "version", 0, "read this version (default: the one labelled current)")
	c.Flags().StringVar(&label, "label", "", "read the version this label points at")
	c.Flags().BoolVar(&asJSON, "json", false, "print the JSON document (path, version, labels, value or value_base64, metadata, created_at)")
	return c
}

func secretListCommand(f *secretFlags) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list [PREFIX]",
		Short: "List the secrets under PREFIX (default: every secret you may list)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			prefix := ""
			if len(args) == 1 {
				p, err := pathArg(args[0])
				if err != nil {
					return err
				}
				prefix = string(p)
			}
			be, err := openSecretBackend(cmd, *f)
			if err != nil {
				return err
			}
			defer be.Close(cmd.Context())
			doc, err := be.List(cmd.Context(), prefix)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), doc)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PATH\tVERSION\tCURRENT\tUPDATED")
			for _, s := range doc.Secrets {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", s.Path, s.CurrentVersion, s.Labels[secrets.LabelCurrent], s.UpdatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func secretVersionsCommand(f *secretFlags) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "versions PATH [--json]",
		Short: "Show a secret's metadata, labels and versions (never values)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := pathArg(args[0])
			if err != nil {
				return err
			}
			be, err := openSecretBackend(cmd, *f)
			if err != nil {
				return err
			}
			defer be.Close(cmd.Context())
			doc, err := be.Metadata(cmd.Context(), path)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), doc)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tLABELS\tCREATED\tBY\tSTATE")
			for _, v := range doc.Versions {
				state := "live"
				switch {
				case v.Destroyed:
					state = "destroyed"
				case v.DeletedAt != nil:
					state = "deleted " + v.DeletedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", v.Version, strings.Join(v.Labels, ","), v.CreatedAt.Format(time.RFC3339), v.CreatedBy, state)
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the JSON document")
	return c
}

func secretLabelCommand(f *secretFlags) *cobra.Command {
	var (
		expect int64
		remove bool
	)
	c := &cobra.Command{
		Use:   "label PATH LABEL (VERSION | --remove) [--expect N]",
		Short: "Point a label at a version, or remove it; --expect N checks where it is now (0: absent)",
		Args:  cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := pathArg(args[0])
			if err != nil {
				return err
			}
			label := args[1]
			if err := secrets.ValidLabel(label); err != nil {
				return usageError{err}
			}
			var version int64
			switch {
			case remove && len(args) == 3:
				return usageError{errors.New("--remove takes no VERSION")}
			case !remove && len(args) == 2:
				return usageError{errors.New("give a VERSION, or --remove")}
			case !remove:
				if version, err = strconv.ParseInt(args[2], 10, 64); err != nil || version < 1 {
					return usageError{fmt.Errorf("VERSION %q is not a positive integer", args[2])}
				}
			}
			var exp *int64
			if cmd.Flags().Changed("expect") {
				exp = &expect
			}
			be, err := openSecretBackend(cmd, *f)
			if err != nil {
				return err
			}
			defer be.Close(cmd.Context())
			if remove {
				if err := be.RemoveLabel(cmd.Context(), path, label, exp); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed label %s of %s\n", label, path)
				return nil
			}
			if err := be.MoveLabel(cmd.Context(), path, label, version, exp); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s -> version %d\n", path, label, version)
			return nil
		},
	}
	c.Flags().Int64Var(&expect, "expect", 0, "check-and-set: the label must be at version N now (0: must not exist)")
	c.Flags().BoolVar(&remove, "remove", false, "remove the label")
	return c
}

func secretVersionsOpCommand(f *secretFlags, op, short string) *cobra.Command {
	var (
		versions []int64
		all      bool
	)
	use := op + " PATH [--version N]..."
	if op == "destroy" {
		use = "destroy PATH (--version N... | --all)"
	}
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := pathArg(args[0])
			if err != nil {
				return err
			}
			if op == "destroy" && all == (len(versions) > 0) {
				// Destroying a whole secret is not undoable: never the
				// default of a forgotten flag.
				return usageError{errors.New("give --version N (repeatable) or --all")}
			}
			be, err := openSecretBackend(cmd, *f)
			if err != nil {
				return err
			}
			defer be.Close(cmd.Context())
			if err := be.Versions(cmd.Context(), op, path, versions); err != nil {
				return err
			}
			what := "the current version"
			switch {
			case all:
				what = "every version"
			case len(versions) > 0:
				what = fmt.Sprintf("versions %v", versions)
			}
			done := map[string]string{"delete": "deleted", "undelete": "undeleted", "destroy": "destroyed"}[op]
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s of %s\n", done, what, path)
			return nil
		},
	}
	c.Flags().Int64SliceVar(&versions, "version", nil, "a version (repeatable)")
	if op == "destroy" {
		c.Flags().BoolVar(&all, "all", false, "destroy the whole secret: every version, its labels and metadata")
	}
	return c
}

func secretRotateCommand(f *secretFlags) *cobra.Command {
	var (
		now    bool
		reason string
	)
	c := &cobra.Command{
		Use:   "rotate PATH [--now] [--reason R]",
		Short: "Rotate a secret with its configured rotator (--now: at once, ending the old credential)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := pathArg(args[0])
			if err != nil {
				return err
			}
			if reason == "" {
				reason = "manual"
			}
			be, err := openSecretBackend(cmd, *f)
			if err != nil {
				return err
			}
			defer be.Close(cmd.Context())
			st, err := be.Rotate(cmd.Context(), path, now, reason)
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), st)
		},
	}
	c.Flags().BoolVar(&now, "now", false, "emergency rotation: the new version is current at once and the old one's leases and sessions end")
	c.Flags().StringVar(&reason, "reason", "", "why (recorded in the audit trail), e.g. suspicion; default manual")
	return c
}

func secretLeaseCommand(f *secretFlags) *cobra.Command {
	var ttl time.Duration
	create := secretLeaseCreate(f, &ttl)
	// `rampart secret lease PATH` is `lease create PATH` (Vault's `read
	// database/creds/ROLE` is one word too).
	cmd := &cobra.Command{Use: "lease [PATH [--ttl D]] | lease create|renew|revoke|list ...",
		Short: "Dynamic database credentials: create (also `lease PATH`), renew, revoke, list leases",
		Args:  cobra.ExactArgs(1), RunE: create.RunE}
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "the lease's lifetime (default: the role's)")
	cmd.AddCommand(create, secretLeaseRenew(f), secretLeaseRevoke(f), secretLeaseList(f))
	return cmd
}

// secretLeaseCreate is `lease create PATH`; ttl is shared with `lease PATH`.
func secretLeaseCreate(f *secretFlags, ttl *time.Duration) *cobra.Command {
	c := &cobra.Command{
		Use:   "create PATH [--ttl D]",
		Short: "Create a short-lived credential; prints the lease with its password (shown only now)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := pathArg(args[0])
			if err != nil {
				return err
			}
			be, err := openSecretBackend(cmd, *f)
			if err != nil {
				return err
			}
			defer be.Close(cmd.Context())
			l, err := be.CreateLease(cmd.Context(), path, *ttl)
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), l)
		},
	}
	c.Flags().DurationVar(ttl, "ttl", 0, "the lease's lifetime (default: the role's)")
	return c
}

func secretLeaseRenew(f *secretFlags) *cobra.Command {
	var ttl time.Duration
	c := &cobra.Command{
		Use:   "renew ID [--ttl D]",
		Short: "Extend a lease (never past its maximum lifetime)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			be, err := openSecretBackend(cmd, *f)
			if err != nil {
				return err
			}
			defer be.Close(cmd.Context())
			l, err := be.RenewLease(cmd.Context(), args[0], ttl)
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), l)
		},
	}
	c.Flags().DurationVar(&ttl, "ttl", 0, "the new lifetime from now (default: the role's)")
	return c
}

func secretLeaseRevoke(f *secretFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "End a lease now: its role is dropped and its sessions terminated",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			be, err := openSecretBackend(cmd, *f)
			if err != nil {
				return err
			}
			defer be.Close(cmd.Context())
			if err := be.RevokeLease(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked lease %s\n", args[0])
			return nil
		},
	}
}

func secretLeaseList(f *secretFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list PATH",
		Short: "List the live leases of a path (no passwords)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := pathArg(args[0])
			if err != nil {
				return err
			}
			be, err := openSecretBackend(cmd, *f)
			if err != nil {
				return err
			}
			defer be.Close(cmd.Context())
			ls, err := be.ListLeases(cmd.Context(), path)
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), ls)
		},
	}
}
