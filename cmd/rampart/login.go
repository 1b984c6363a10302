package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"

	"github.com/spf13/cobra"

	"github.com/rampart-auth/rampart/internal/devicelogin"
)

// newLoginCommand is `rampart login`: a device authorization grant
// (RFC 8628) client. The flow is internal/devicelogin; this is flags and
// wiring only.
func newLoginCommand() *cobra.Command {
	var issuer, clientID, scope, output string
	cmd := &cobra.Command{
		Use:   "login --issuer URL --client-id ID [--scope S] [--output FILE]",
		Short: "Sign in on another device (OAuth device flow) and print the tokens as JSON",
		Long: "login asks the issuer for a device code, prints the code and the page to\n" +
			"enter it on (stderr), waits while you sign in and allow the request there,\n" +
			"and prints the token response as JSON on stdout. Nothing is stored unless\n" +
			"--output names a file, which is written readable by you only (0600).\n" +
			"The client must be allowed the grant type\n" +
			"urn:ietf:params:oauth:grant-type:device_code. Exit 1 when the request is\n" +
			"denied or expires, 2 on a usage error.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if issuer == "" || clientID == "" {
				return usageError{errors.New("login needs --issuer URL and --client-id ID")}
			}
			if err := devicelogin.CheckIssuer(issuer); err != nil {
				return usageError{err}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			resp, err := devicelogin.Run(ctx, devicelogin.Options{Issuer: issuer, ClientID: clientID, Scope: scope, Prompt: cmd.ErrOrStderr()})
			var ue *devicelogin.UsageError
			if errors.As(err, &ue) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			out, err := devicelogin.Format(resp)
			if err != nil {
				return err
			}
			if output != "" {
				if err := devicelogin.WriteFile(output, out); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "Signed in; the tokens are in %s (mode 0600).\n", output)
				return nil
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&issuer, "issuer", "", "the issuer URL (https, or http on loopback)")
	f.StringVar(&clientID, "client-id", "", "the client id (a client allowed the device_code grant)")
	f.StringVar(&scope, "scope", "", "space-separated scopes to ask for")
	f.StringVar(&output, "output", "", "write the token response to FILE (mode 0600) instead of stdout")
	return cmd
}
