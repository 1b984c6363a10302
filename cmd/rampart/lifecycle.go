package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/app"
	"github.com/rampart-auth/rampart/internal/identity"
)

// The lifecycle2 commands: `client disable|enable`, `user disable|enable`,
// `user reset-password` and `user list`, each on the store (--config) or a
// running server (--issuer), like the other client and user commands.

// newClientToggle is `client disable ID` (disable true) or `client enable ID`.
func newClientToggle(disable bool) *cobra.Command {
	if !disable {
		// Enabling only records its event (the audit log needs the master key).
		return clientCommand("enable ID", "Enable a disabled stored client again (its old tokens stay revoked)", needMasterKey,
			func(cmd *cobra.Command, be adminBackend, id string) error {
				if err := be.EnableClient(cmd.Context(), id); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "enabled client %s\n", id)
				return nil
			})
	}
	// Disabling denies access tokens fleet-wide (Redis).
	return clientCommand("disable ID", "Disable a stored client: every endpoint refuses it, its refresh tokens are revoked and its live access tokens denied", needRevoke,
		func(cmd *cobra.Command, be adminBackend, id string) error {
			n, err := be.DisableClient(cmd.Context(), id)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "disabled client %s; revoked its refresh tokens and %d live access tokens\n", id, n)
			return nil
		})
}

// userTarget is the --username / --id pair of the user commands.
type userTarget struct{ username, id string }

func (t *userTarget) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&t.username, "username", "", "the user's username")
	cmd.Flags().StringVar(&t.id, "id", "", "the user's id (instead of --username)")
}

// check refuses a missing or doubled target before anything is opened.
func (t *userTarget) check() error {
	switch {
	case t.username != "" && t.id != "":
		return usageError{errors.New("give --username or --id, not both")}
	case t.username == "" && t.id == "":
		return usageError{errors.New("--username or --id is required")}
	case t.username != "":
		if _, err := identity.NormalizeUsername(t.username); err != nil {
			return usageError{err}
		}
	}
	return nil
}

// resolve returns the user's id and a name to print.
func (t *userTarget) resolve(ctx context.Context, be adminBackend) (string, string, error) {
	if t.id != "" {
		return t.id, t.id, nil
	}
	u, err := be.UserByName(ctx, t.username)
	if err != nil {
		return "", "", err
	}
	return u.ID, u.Username, nil
}

// newUserToggle is `user disable` (disable true) or `user enable`.
func newUserToggle(disable bool) *cobra.Command {
	var (
		path   string
		remote remoteFlags
		target userTarget
	)
	use, short := "enable --username NAME | --id ID", "Enable a disabled user"
	if disable {
		use, short = "disable --username NAME | --id ID", "Disable a user and end their sessions, refresh tokens and live access tokens"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := target.check(); err != nil {
				return err
			}
			ctx := cmd.Context()
			need := needMasterKey
			if disable {
				need = needRevoke
			}
			be, err := openBackend(cmd, path, remote, need)
			if err != nil {
				return err
			}
			defer be.Close(ctx)
			id, name, err := target.resolve(ctx, be)
			if err != nil {
				return err
			}
			if !disable {
				if err := be.EnableUser(ctx, id); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "enabled user %s\n", name)
				return nil
			}
			ended, err := be.DisableUser(ctx, id)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "disabled user %s; ended %d sessions, denied %d live access tokens, revoked their refresh tokens\n",
				name, ended.Sessions, ended.RevokedAccessTokens)
			return nil
		},
	}
	addConfigFlag(cmd, &path)
	addRemoteFlags(cmd, &remote)
	target.flags(cmd)
	return cmd
}

func newUserResetPassword() *cobra.Command {
	var (
		path      string
		remote    remoteFlags
		target    userTarget
		fromStdin bool
	)
	cmd := &cobra.Command{
		Use:   "reset-password --username NAME | --id ID --password-stdin",
		Short: "Set a user's password (read from stdin; they must change it at the next sign-in) and end everything they hold",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := target.check(); err != nil {
				return err
			}
			if !fromStdin {
				// Passwords never go on the command line (ps, shell history).
				return usageError{errors.New("--password-stdin is required: pipe the password on stdin")}
			}
			pw, err := readPassword(cmd.InOrStdin())
			if err != nil {
				return usageError{err}
			}
			if err := identity.CheckPassword(pw); err != nil {
				return usageError{err}
			}
			ctx := cmd.Context()
			be, err := openBackend(cmd, path, remote, app.CLINeeds{MasterKey: true, Redis: true})
			if err != nil {
				return err
			}
			defer be.Close(ctx)
			id, name, err := target.resolve(ctx, be)
			if err != nil {
				return err
			}
			ended, err := be.ResetPassword(ctx, id, pw)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "reset the password of user %s (they must change it at the next sign-in); ended %d sessions, denied %d live access tokens\n",
				name, ended.Sessions, ended.RevokedAccessTokens)
			return nil
		},
	}
	addConfigFlag(cmd, &path)
	addRemoteFlags(cmd, &remote)
	target.flags(cmd)
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the new password from stdin")
	return cmd
}

func newUserList() *cobra.Command {
	var (
		path   string
		remote remoteFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List users by username",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			be, err := openBackend(cmd, path, remote, needStore)
			if err != nil {
				return err
			}
			defer be.Close(ctx)
			all := []admin.UserView{}
			for after := ""; ; {
				page, err := be.ListUsers(ctx, after, admin.MaxListLimit)
				if err != nil {
					return err
				}
				all = append(all, page...)
				if len(page) < admin.MaxListLimit {
					break
				}
				after = page[len(page)-1].Username
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(all)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USERNAME\tID\tROLE\tDISABLED")
			for _, u := range all {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%v\n", u.Username, u.ID, u.Role, u.Disabled)
			}
			return tw.Flush()
		},
	}
	addConfigFlag(cmd, &path)
	addRemoteFlags(cmd, &remote)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
