// Package jwtcli implements `rampart jwt verify`: the token on stdin, keys
// from a JWK Set (file or URL) or a single JWK file; exit 0 with the claims
// as JSON on stdout when valid, 1 with the reason on stderr when not, 2 on a
// usage error (DESIGN.md, "Public promises").
package jwtcli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-auth/rampart/jwtauth"
)

// Exit codes.
const (
	ExitInvalid = 1
	ExitUsage   = 2
)

// now is the verifier's clock; tests replace it.
var now = time.Now

// maxStdin caps what is read from stdin; anything larger is not a token.
const maxStdin = 64 << 10

// maxKeyFile caps a JWK or JWK Set file.
const maxKeyFile = 1 << 20

// ExitError carries the exit code of a failure whose message was already
// printed to stderr.
type ExitError struct{ Code int }

func (e ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// ExitCode returns the process exit code.
func (e ExitError) ExitCode() int { return e.Code }

// Silent reports that the message was already printed.
func (ExitError) Silent() bool { return true }

// Command returns the `jwt` command with its `verify` subcommand.
func Command() *cobra.Command {
	jwt := &cobra.Command{Use: "jwt", Short: "Work with JSON Web Tokens"}
	var o options
	verify := &cobra.Command{
		Use:   "verify (--jwks FILE_OR_URL | --key JWK_FILE) [--alg ALG] [--iss ISS] [--aud AUD] [--typ TYP] < token",
		Short: "Verify a JWT read from stdin; print its claims (exit 0) or the reason it is invalid (exit 1)",
		Long: "Verify a JWT read from stdin with Rampart's verifier (jwtauth): strict parsing, the algorithm\n" +
			"pinned to the key, signature, exp/nbf/iat. --iss, --aud and --typ add those checks; without them\n" +
			"they are skipped. Exit 0 prints the claims as JSON; exit 1 prints the reason (an invalid token,\n" +
			"or a key that fails the key policy, e.g. RSA under 2048 bits or use \"enc\"); exit 2 is a usage\n" +
			"error (flags, unreadable files, no token on stdin, a JWK without alg and no --alg).",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				fmt.Fprintf(c.ErrOrStderr(), "usage error: unexpected argument %q (the token is read from stdin)\n", args[0])
				return ExitError{Code: ExitUsage}
			}
			return nil
		},
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			code := o.run(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
			if code != 0 {
				return ExitError{Code: code}
			}
			return nil
		},
	}
	f := verify.Flags()
	f.StringVar(&o.jwks, "jwks", "", "JWK Set: a file, or an https:// URL (http:// only for loopback)")
	f.StringVar(&o.key, "key", "", "a single JWK file")
	f.StringVar(&o.alg, "alg", "", "the only algorithm to accept (default: the key's alg)")
	f.StringVar(&o.iss, "iss", "", "required issuer")
	f.StringVar(&o.aud, "aud", "", "required audience")
	f.StringVar(&o.typ, "typ", "", "required typ (e.g. at+jwt)")
	usage := func(c *cobra.Command, err error) error {
		fmt.Fprintf(c.ErrOrStderr(), "usage error: %v\n", err)
		return ExitError{Code: ExitUsage}
	}
	verify.SetFlagErrorFunc(usage)
	jwt.SetFlagErrorFunc(usage)
	jwt.AddCommand(verify)
	return jwt
}

type options struct {
	jwks, key, alg, iss, aud, typ string
}

// usageErr marks a usage failure inside run (exit 2); every other error is
// an invalid token (exit 1).
type usageErr struct{ error }

func (o *options) run(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) int {
	if ctx == nil {
		ctx = context.Background()
	}
	claims, err := o.verify(ctx, stdin)
	var ue usageErr
	switch {
	case err == nil:
		var out bytes.Buffer
		if err := json.Indent(&out, claims.Raw, "", "  "); err != nil {
			fmt.Fprintf(stderr, "invalid token: %v\n", err)
			return ExitInvalid
		}
		out.WriteByte('\n')
		_, _ = stdout.Write(out.Bytes())
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "usage error: %v\n", ue.error)
		return ExitUsage
	default:
		fmt.Fprintf(stderr, "invalid token: %s\n", describe(err))
		return ExitInvalid
	}
}

func (o *options) verify(ctx context.Context, stdin io.Reader) (*jwtauth.Claims, error) {
	if (o.jwks == "") == (o.key == "") {
		return nil, usageErr{errors.New("give exactly one of --jwks or --key")}
	}
	if o.alg != "" && !knownAlg(o.alg) {
		return nil, usageErr{fmt.Errorf("unknown --alg %q", o.alg)}
	}
	raw, err := io.ReadAll(io.LimitReader(stdin, maxStdin+1))
	if err != nil {
		return nil, usageErr{fmt.Errorf("cannot read stdin: %v", err)}
	}
	tok := strings.TrimSpace(string(raw))
	if tok == "" {
		return nil, usageErr{errors.New("no token on stdin")}
	}
	src, keyAlg, err := o.keySource(ctx)
	if err != nil {
		return nil, err
	}
	cfg := jwtauth.Config{
		Issuer: o.iss, SkipIssuer: o.iss == "",
		Audiences: nonEmpty(o.aud), SkipAudience: o.aud == "",
		Type: o.typ, SkipType: o.typ == "",
		Keys:           src,
		RequiredClaims: []string{"exp"},
		CacheSize:      -1,
		Clock:          now,
	}
	if o.iss != "" {
		cfg.RequiredClaims = append(cfg.RequiredClaims, "iss")
	}
	if o.aud != "" {
		cfg.RequiredClaims = append(cfg.RequiredClaims, "aud")
	}
	switch {
	case o.alg != "":
		cfg.Algorithms = []string{o.alg}
	case keyAlg != "":
		cfg.Algorithms = []string{keyAlg}
	default:
		// A JWK Set: every algorithm its keys carry may be used, each
		// key still verifying only its own algorithm. HMAC never comes
		// from a JWK, so it is not listed.
		cfg.Algorithms = []string{jwtauth.ES256, jwtauth.ES384, jwtauth.ES512, jwtauth.EdDSA,
			jwtauth.RS256, jwtauth.RS384, jwtauth.RS512, jwtauth.PS256, jwtauth.PS384, jwtauth.PS512}
	}
	v, err := jwtauth.New(cfg)
	if err != nil {
		return nil, usageErr{err}
	}
	if len(tok) > maxStdin {
		return nil, &jwtauth.Error{Reason: jwtauth.ReasonTooLarge, Detail: "token larger than 64 KiB"}
	}
	return v.Verify(ctx, tok)
}

// keySource loads the keys; for --key it also returns the key's algorithm.
func (o *options) keySource(ctx context.Context) (jwtauth.KeySource, string, error) {
	if o.key != "" {
		data, err := readCapped(o.key)
		if err != nil {
			return nil, "", usageErr{err}
		}
		var probe struct {
			Alg string `json:"alg"`
			Kty string `json:"kty"`
		}
		if err := json.Unmarshal(data, &probe); err != nil || probe.Kty == "" {
			return nil, "", usageErr{fmt.Errorf("%s is not a JWK", o.key)}
		}
		if probe.Alg == "" && o.alg == "" {
			return nil, "", usageErr{errors.New("the JWK has no alg; pass --alg")}
		}
		k, err := jwtauth.ParseJWK(data, o.alg) // errors carry ReasonBadKey
		if err != nil {
			return nil, "", err
		}
		src, err := jwtauth.NewStaticKeys(k)
		if err != nil {
			return nil, "", usageErr{err}
		}
		return src, k.Algorithm, nil
	}
	if strings.HasPrefix(o.jwks, "https://") || strings.HasPrefix(o.jwks, "http://") {
		j, err := jwtauth.NewJWKS(jwtauth.JWKSConfig{URL: o.jwks})
		if err != nil {
			return nil, "", usageErr{err}
		}
		if err := j.Refresh(ctx); err != nil {
			return nil, "", &jwtauth.Error{Reason: jwtauth.ReasonKeySourceError, Detail: err.Error(), Err: err}
		}
		return j, "", nil
	}
	data, err := readCapped(o.jwks)
	if err != nil {
		return nil, "", usageErr{err}
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil || set.Keys == nil {
		return nil, "", usageErr{fmt.Errorf("%s is not a JWK Set ({\"keys\": [...]})", o.jwks)}
	}
	var keys []*jwtauth.Key
	var refused []string
	for _, raw := range set.Keys {
		// ParseJWK: strict JSON (no duplicate members), then the key policy.
		k, err := jwtauth.ParseJWK(raw, o.alg)
		if err != nil {
			var e *jwtauth.Error
			if errors.As(err, &e) {
				refused = append(refused, e.Detail)
			} else {
				refused = append(refused, err.Error())
			}
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, "", &jwtauth.Error{Reason: jwtauth.ReasonBadKey, Detail: "no usable key in the set: " + strings.Join(refused, "; ")}
	}
	src, err := jwtauth.NewStaticKeys(keys...)
	if err != nil {
		return nil, "", &jwtauth.Error{Reason: jwtauth.ReasonBadKey, Detail: err.Error(), Err: err}
	}
	return src, "", nil
}

// describe renders a rejection as "<reason>: <detail>[: <cause>]", without
// the "jwtauth:" prefixes of Error().
func describe(err error) string {
	var e *jwtauth.Error
	if !errors.As(err, &e) {
		return err.Error()
	}
	msg := string(e.Reason)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil && !strings.Contains(e.Detail, e.Err.Error()) {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path) // #nosec G304 -- the operator names the key file on the command line.
	if err != nil {
		return nil, fmt.Errorf("cannot open %s: %v", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %v", path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxKeyFile)
	}
	return data, nil
}

func knownAlg(a string) bool {
	switch a {
	case jwtauth.ES256, jwtauth.ES384, jwtauth.ES512, jwtauth.EdDSA, jwtauth.RS256, jwtauth.RS384, jwtauth.RS512,
		jwtauth.PS256, jwtauth.PS384, jwtauth.PS512:
		return true
	}
	return false
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
