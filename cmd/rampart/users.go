package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/store"
)

func newUserCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users"}
	var (
		path, username, role string
		fromStdin            bool
	)
	create := &cobra.Command{
		Use:   "create --username NAME --password-stdin [--role admin]",
		Short: "Create a user; the password is read from the first line of stdin",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if username == "" {
				return usageError{errors.New("--username is required")}
			}
			if !fromStdin {
				// Passwords never go on the command line, where ps and shell
				// history would keep them.
				return usageError{errors.New("--password-stdin is required: pipe the password on stdin")}
			}
			if role != identity.RoleUser && role != identity.RoleAdmin {
				return usageError{fmt.Errorf("--role %q is not a role; use admin or leave it out", role)}
			}
			if _, err := identity.NormalizeUsername(username); err != nil {
				return usageError{err}
			}
			pw, err := readPassword(cmd.InOrStdin())
			if err != nil {
				return usageError{err}
			}
			if err := identity.CheckPassword(pw); err != nil {
				return usageError{err}
			}
			ctx := cmd.Context()
			env, err := openAdminEnv(cmd, path, needMasterKey)
			if err != nil {
				return err
			}
			defer env.close(ctx)
			u, err := env.parts.users.Create(ctx, username, pw, role)
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("user %s already exists", strings.ToLower(username))
			}
			if err != nil {
				return err
			}
			if err := env.record(ctx, "user.create", "user:"+u.ID, map[string]string{"role": role}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created user %s (id %s)\n", u.Username, u.ID)
			return nil
		},
	}
	addConfigFlag(create, &path)
	create.Flags().StringVar(&username, "username", "", "username (1-64 of a-z 0-9 . _ - @ +, case-insensitive)")
	create.Flags().StringVar(&role, "role", "", "role: admin, or empty for a regular user")
	create.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from stdin")
	cmd.AddCommand(create)
	return cmd
}

// readPassword reads the first line of r (without its line ending).
func readPassword(r io.Reader) (string, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, identity.MaxPasswordBytes+3), identity.MaxPasswordBytes+3)
	line, err := br.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	if len(line) > identity.MaxPasswordBytes+2 || (!strings.HasSuffix(line, "\n") && len(line) > identity.MaxPasswordBytes) {
		return "", fmt.Errorf("the password is longer than %d bytes", identity.MaxPasswordBytes)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("no password on stdin")
	}
	return line, nil
}
