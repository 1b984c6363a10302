package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/app"
	"github.com/rampart-auth/rampart/internal/identity"
)

func newUserCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users"}
	var (
		path, username, role string
		remote               remoteFlags
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
			if err := admin.ValidateUsername(username, role); err != nil {
				return usageError{err}
			}
			pw, err := readPassword(cmd.InOrStdin())
			if err != nil {
				return usageError{err}
			}
			if err := admin.ValidateUser(username, pw, role); err != nil {
				return usageError{err}
			}
			ctx := cmd.Context()
			be, err := openBackend(cmd, path, remote, app.CLINeeds{MasterKey: true})
			if err != nil {
				return err
			}
			defer be.Close(ctx)
			u, err := be.CreateUser(ctx, username, pw, role)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created user %s (id %s)\n", u.Username, u.ID)
			return nil
		},
	}
	addConfigFlag(create, &path)
	addRemoteFlags(create, &remote)
	create.Flags().StringVar(&username, "username", "", "username (1-64 of a-z 0-9 . _ - @ +, case-insensitive)")
	create.Flags().StringVar(&role, "role", "", "role: admin, or empty for a regular user")
	create.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from stdin")
	cmd.AddCommand(create, newUserList(), newUserToggle(true), newUserToggle(false), newUserResetPassword())
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
