package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-auth/rampart/internal/adminclient"
	"github.com/rampart-auth/rampart/internal/fsx"
	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secretsclient"
)

// renderSpec is one --secret PATH=FILE[:LABEL].
type renderSpec struct {
	path  secrets.Path
	file  string
	label string
}

// parseRenderSpec parses PATH=FILE[:LABEL]; a final ":x" is a label
// only when x is one (so a FILE may hold ':').
func parseRenderSpec(s string) (renderSpec, error) {
	p, rest, ok := strings.Cut(s, "=")
	if !ok || rest == "" {
		return renderSpec{}, fmt.Errorf("--secret %q is not PATH=FILE[:LABEL]", s)
	}
	path, err := secrets.ParsePath(p)
	if err != nil {
		return renderSpec{}, fmt.Errorf("--secret %q: %w", s, err)
	}
	spec := renderSpec{path: path, file: rest}
	if i := strings.LastIndexByte(rest, ':'); i > 0 && secrets.ValidLabel(rest[i+1:]) == nil {
		spec.file, spec.label = rest[:i], rest[i+1:]
	}
	return spec, nil
}

// reloadSignals are the signals --signal may send.
var reloadSignals = map[string]syscall.Signal{"HUP": syscall.SIGHUP, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "TERM": syscall.SIGTERM, "INT": syscall.SIGINT}

// renderer writes secrets to files and tells the consumer.
type renderer struct {
	c       *secretsclient.Client
	specs   []renderSpec
	pidFile string
	sig     syscall.Signal
	execCmd string
	stdout  io.Writer
	stderr  io.Writer
}

func secretRenderCommand(f *secretFlags) *cobra.Command {
	var (
		svidDir, signalSpec, execCmd string
		specs                        []string
		interval                     time.Duration
		once                         bool
	)
	c := &cobra.Command{
		Use:   "render --issuer URL (--token-file F | --svid-dir DIR) --secret PATH=FILE[:LABEL]... [--interval 30s] [--once] [--signal PID_FILE:HUP] [--exec CMD]",
		Short: "Write secrets to files (0600, atomically) when they change, then signal or run a reload",
		Long: "render reads each --secret from the server and writes its value to FILE (mode 0600,\n" +
			"atomically: a reader sees the old value or the new one) only when it changed; then it\n" +
			"sends the signal to the process in PID_FILE or runs CMD. With --svid-dir it presents\n" +
			"the SVID `rampart agent --out DIR` keeps (mTLS to ca.listen: --issuer is its https URL).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.config != "" {
				return usageError{errors.New("render reads from a running server: give --issuer, not --config")}
			}
			if f.remote.issuer == "" || (f.remote.tokenFile == "") == (svidDir == "") {
				return usageError{errors.New("give --issuer URL and exactly one of --token-file and --svid-dir")}
			}
			if len(specs) == 0 {
				return usageError{errors.New("give at least one --secret PATH=FILE[:LABEL]")}
			}
			if interval < time.Second {
				return usageError{errors.New("--interval is at least 1s")}
			}
			r := &renderer{execCmd: execCmd, stdout: cmd.OutOrStdout(), stderr: cmd.ErrOrStderr()}
			for _, s := range specs {
				spec, err := parseRenderSpec(s)
				if err != nil {
					return usageError{err}
				}
				r.specs = append(r.specs, spec)
			}
			if signalSpec != "" {
				if execCmd != "" {
					return usageError{errors.New("give --signal or --exec, not both")}
				}
				pid, name, ok := strings.Cut(signalSpec, ":")
				sig, known := reloadSignals[strings.TrimPrefix(strings.ToUpper(name), "SIG")]
				if !ok || pid == "" || !known {
					return usageError{fmt.Errorf("--signal %q is not PID_FILE:SIGNAL (HUP, USR1, USR2, TERM, INT)", signalSpec)}
				}
				r.pidFile, r.sig = pid, sig
			}
			c, err := openRenderClient(f.remote.issuer, f.remote.tokenFile, svidDir)
			if err != nil {
				return err
			}
			r.c = c
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if once {
				return r.pass(ctx)
			}
			return r.loop(ctx, interval)
		},
	}
	c.Flags().StringVar(&svidDir, "svid-dir", "", "present the X509-SVID in this directory (what \"rampart agent --out DIR\" keeps; mTLS to ca.listen)")
	c.Flags().StringArrayVar(&specs, "secret", nil, "PATH=FILE[:LABEL]: write the secret (the version LABEL points at; default current) to FILE; repeatable")
	c.Flags().DurationVar(&interval, "interval", 30*time.Second, "how often to check for changes")
	c.Flags().BoolVar(&once, "once", false, "write once and exit (exit 1 if any secret could not be read or written)")
	c.Flags().StringVar(&signalSpec, "signal", "", "PID_FILE:SIGNAL: after a change, send SIGNAL (HUP, USR1, USR2, TERM, INT) to the process whose pid PID_FILE holds")
	c.Flags().StringVar(&execCmd, "exec", "", "after a change, run this command (with /bin/sh -c)")
	return c
}

// openRenderClient builds the client: a token from the token file, or
// the agent's SVID.
func openRenderClient(issuer, tokenFile, svidDir string) (*secretsclient.Client, error) {
	if svidDir != "" {
		hc, err := secretsclient.SVIDDirClient(svidDir)
		if err != nil {
			return nil, usageError{err}
		}
		c, err := secretsclient.New(issuer, "", hc)
		if err != nil {
			return nil, usageError{err}
		}
		return c, nil
	}
	t, err := adminclient.LoadToken(tokenFile, "")
	if err != nil || t == "" {
		if err == nil {
			err = errors.New("the token file is empty")
		}
		return nil, usageError{err}
	}
	c, err := secretsclient.New(issuer, t, nil)
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

// loop renders every interval until ctx ends; a failed pass is reported
// and retried at the next tick (the files keep their last good value).
func (r *renderer) loop(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := r.pass(ctx); err != nil && ctx.Err() == nil {
			fmt.Fprintf(r.stderr, "rampart secret render: %v\n", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// pass reads every secret, writes those that changed and, when any did,
// tells the consumer once.
func (r *renderer) pass(ctx context.Context) error {
	var errs []error
	changed := 0
	for _, s := range r.specs {
		ch, err := r.render(ctx, s)
		if err != nil {
			// The error names the path and the file, never the value.
			errs = append(errs, fmt.Errorf("%s -> %s: %w", s.path, s.file, err))
			continue
		}
		if ch {
			changed++
			fmt.Fprintf(r.stdout, "rendered %s to %s\n", s.path, s.file)
		}
	}
	if changed > 0 {
		if err := r.notify(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// render writes one secret when the file does not hold it already.
func (r *renderer) render(ctx context.Context, s renderSpec) (bool, error) {
	doc, err := r.c.Get(ctx, string(s.path), 0, s.label)
	if err != nil {
		return false, err
	}
	b, err := doc.Bytes()
	if err != nil {
		return false, err
	}
	defer clear(b)
	have, err := os.ReadFile(s.file) // #nosec G304 -- the operator's --secret destination
	if err == nil && bytes.Equal(have, b) {
		clear(have)
		return false, ensureMode(s.file)
	}
	clear(have)
	// 0600: only the consumer's user reads it (OWASP Secrets Management
	// Cheat Sheet); atomic so the consumer never reads a torn value.
	if err := fsx.WriteFileAtomic(s.file, b, 0o600); err != nil {
		return false, err
	}
	return true, nil
}

// ensureMode narrows a file that holds the value already but is readable
// by others (made by hand) to 0600.
func ensureMode(file string) error {
	fi, err := os.Stat(file)
	if err != nil {
		return err
	}
	if fi.Mode().Perm() != 0o600 {
		return os.Chmod(file, 0o600)
	}
	return nil
}

// notify signals the process in the pid file, or runs the command.
func (r *renderer) notify(ctx context.Context) error {
	switch {
	case r.pidFile != "":
		b, err := os.ReadFile(r.pidFile) // #nosec G304 -- the operator's --signal pid file
		if err != nil {
			return fmt.Errorf("--signal: %w", err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 {
			return fmt.Errorf("--signal: %s does not hold a process id", r.pidFile)
		}
		if err := syscall.Kill(pid, r.sig); err != nil {
			return fmt.Errorf("--signal: process %d: %w", pid, err)
		}
	case r.execCmd != "":
		c := exec.CommandContext(ctx, "/bin/sh", "-c", r.execCmd) // #nosec G204 -- the operator's own --exec command
		c.Stdout, c.Stderr = r.stdout, r.stderr
		if err := c.Run(); err != nil {
			return fmt.Errorf("--exec: %w", err)
		}
	}
	return nil
}
