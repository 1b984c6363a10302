// Command rampart is the Rampart binary: today the OAuth 2.1 / OpenID
// Connect authorization server with its signing keys, rate limits and audit
// trail (the gateway, CA and secrets manager come later, in the same
// binary). This package only wires components together and parses the
// command line; logic lives in internal/ and the public packages.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/rampart-auth/rampart/internal/jwtcli"
)

// Exit codes shared by every command.
const (
	exitOK    = 0
	exitFail  = 1 // the command ran and the answer is "no" (invalid, failed)
	exitUsage = 2 // the command line was wrong
)

// exitCoder is implemented by errors that choose their own exit code.
type exitCoder interface{ ExitCode() int }

// usageError marks a command-line mistake (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }
func (usageError) ExitCode() int   { return exitUsage }

// silentError carries an exit code for a failure already reported on stderr.
type silentError struct{ code int }

func (e silentError) Error() string { return fmt.Sprintf("exit status %d", e.code) }
func (e silentError) ExitCode() int { return e.code }
func (silentError) Silent() bool    { return true }

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command line and returns the process exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	// Errors whose message the command already printed stay silent.
	var quiet interface{ Silent() bool }
	if !errors.As(err, &quiet) || !quiet.Silent() {
		fmt.Fprintf(stderr, "rampart: %v\n", err)
	}
	var ec exitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return exitFail
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "rampart",
		Short: "Rampart: an OAuth 2.1 / OpenID Connect authorization server with a hash-chained audit trail",
		Long: "Rampart is a security layer for backend teams. Today it is an OAuth 2.1 /\n" +
			"OpenID Connect authorization server (authorization code + PKCE, client\n" +
			"credentials, rotating refresh tokens, revocation, introspection) with sealed,\n" +
			"rotating signing keys, rate limits and a hash-chained audit trail. Run\n" +
			"`rampart serve` to start it on this machine with safe defaults.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// Every flag or argument mistake is a usage error (exit 2).
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newVersionCommand(),
		newServeCommand(),
		newConfigCommand(),
		newMigrateCommand(),
		newKeyCommand(),
		newMasterKeyCommand(),
		newAuditCommand(),
		newClientCommand(),
		newUserCommand(),
		jwtcli.Command(),
		newLoginCommand(),
		newAgentCommand(),
		newCACommand(),
		newSecretCommand(),
	)
	setUsageErrors(root)
	return root
}

// setUsageErrors makes argument-count errors and unknown subcommands exit 2
// throughout the tree.
func setUsageErrors(c *cobra.Command) {
	if c.Name() == "jwt" {
		return // jwtcli prints its own messages and chooses its exit codes
	}
	if c.Args != nil {
		check := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	if c.HasSubCommands() && c.RunE == nil && c.Run == nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
			}
			return nil
		}
		c.RunE = func(cmd *cobra.Command, _ []string) error {
			_ = cmd.Help()
			return usageError{fmt.Errorf("%s needs a subcommand", cmd.CommandPath())}
		}
	}
	c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	for _, sub := range c.Commands() {
		setUsageErrors(sub)
	}
}
