package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// MasterKeyEnv names the environment variable holding the master key when
// master_key_file is not set.
const MasterKeyEnv = "RAMPART_MASTER_KEY"

// DevMasterKeyName is the dev-mode master key file inside data_dir.
const DevMasterKeyName = "master.key"

// maxResolvedFile bounds what Resolve reads from a *_file: keys and
// certificate chains are a few KiB.
const maxResolvedFile = 1 << 20

// Env is how Resolve reads the outside world. Tests inject maps; commands
// use OSEnv.
type Env struct {
	// Getenv returns an environment variable ("" when unset).
	Getenv func(string) string
	// ReadFile reads a file named by a *_file key (TLS certificates).
	ReadFile func(string) ([]byte, error)
	// ReadPrivateFile reads the master key file (master_key_file or the
	// dev key) and refuses one that is not a regular file or that group or
	// others can access; a missing file is os.ErrNotExist. The keys package
	// owns that rule (keys.ReadMasterKeyFile); commands inject it.
	ReadPrivateFile func(string) ([]byte, error)
}

// OSEnv reads the process environment and the file system, with
// readPrivate reading the master key file (keys.ReadMasterKeyFile).
func OSEnv(readPrivate func(string) ([]byte, error)) Env {
	return Env{Getenv: os.Getenv, ReadFile: readFile, ReadPrivateFile: readPrivate}
}

// Needs says what a command uses, so it resolves only that (a command that
// does not use client secrets must not refuse to run because a client's
// secret_env is unset in the operator's shell).
type Needs struct {
	Store         bool // store.dsn / store.dsn_env
	Redis         bool // redis.url / redis.url_env
	MasterKey     bool // master_key_file / RAMPART_MASTER_KEY / the dev key
	ClientSecrets bool // clients[].secret_env
	TLSFiles      bool // http.tls and gateway.tls cert_file / key_file, gateway upstream_tls files, ui.logo_file
	// SecretDatabases: secrets.databases[].dsn_env / dsn_file.
	SecretDatabases bool
}

// NeedAll is what `rampart serve` uses, and so what `rampart config check`
// resolves: its dry run.
var NeedAll = Needs{Store: true, Redis: true, MasterKey: true, ClientSecrets: true, TLSFiles: true, SecretDatabases: true}

// Resolved holds the values named by *_env and *_file keys, read once.
// Fields a command did not ask for are empty.
type Resolved struct {
	// StoreDSN is store.dsn or the content of store.dsn_env.
	StoreDSN string
	// RedisURL is redis.url or the content of redis.url_env; "" when Redis
	// is not configured (in-process counters).
	RedisURL string
	// MasterKey is the master key's text (base64 or hex, still to be
	// parsed by the keys package) and MasterKeySource where it came from
	// (for messages). In dev mode without one, MasterKey is nil and
	// DevMasterKeyFile names the file serve generates.
	MasterKey        []byte
	MasterKeySource  string
	DevMasterKeyFile string
	// ClientSecrets maps a client id to the secret in its secret_env.
	ClientSecrets map[string]string
	// SecretDatabaseDSNs maps a secrets.databases name to its
	// administrative DSN (with SecretDatabases).
	SecretDatabaseDSNs map[string]string
	// Logo is the content of ui.logo_file (with TLSFiles, the files serve
	// reads at start); nil without one.
	Logo []byte
}

// Resolve reads every *_env and *_file the command needs, exactly once,
// through env, and returns every problem at once, each naming the key and
// the variable or file. An unresolvable value a command needs is an error,
// never skipped: a command that quietly ran without, say, the Redis deny
// list would leave revoked tokens accepted. Resolve has no side effects.
// Call it on a validated configuration.
func (c *Config) Resolve(env Env, need Needs) (*Resolved, error) {
	if env.Getenv == nil || env.ReadFile == nil || env.ReadPrivateFile == nil {
		return nil, errors.New("config: Resolve needs Getenv, ReadFile and ReadPrivateFile")
	}
	res := &Resolved{}
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, args...)))
	}
	// fromEnv reads an environment variable a *_env key names. Values are
	// never quoted in messages: they may be secrets.
	fromEnv := func(key, name string) (string, bool) {
		v := env.Getenv(name)
		if v == "" {
			bad(key, "names the environment variable %s, but it is not set (or empty) in this shell; export it, or run the command where it is set", name)
			return "", false
		}
		return v, true
	}

	if need.Store {
		res.StoreDSN = c.Store.DSN
		if c.Store.DSNEnv != "" {
			// A password in this DSN is fine: keeping it out of the file is
			// the point of dsn_env.
			if v, ok := fromEnv("store.dsn_env", c.Store.DSNEnv); ok {
				res.StoreDSN = v
			}
		}
	}
	if need.Redis {
		res.RedisURL = c.Redis.URL
		if c.Redis.URLEnv != "" {
			if v, ok := fromEnv("redis.url_env", c.Redis.URLEnv); ok {
				if u, err := url.Parse(v); err != nil || !isRedisURL(u) {
					bad("redis.url_env", "%s does not hold a redis URL; write redis://host:6379/0, rediss://... for TLS, or unix:///path", c.Redis.URLEnv)
				} else {
					res.RedisURL = v
				}
			}
		}
	}
	if need.MasterKey {
		c.resolveMasterKey(env, res, bad)
	}
	if need.ClientSecrets {
		for i, cl := range c.Clients {
			if cl.SecretEnv == "" {
				continue
			}
			key := fmt.Sprintf("clients[%d] (%s).secret_env", i, cl.ID)
			v, ok := fromEnv(key, cl.SecretEnv)
			if !ok {
				continue
			}
			if len(v) < MinClientSecretLength {
				bad(key, "the secret in %s has %d characters; use at least %d (generate one with `openssl rand -hex 32`)", cl.SecretEnv, len(v), MinClientSecretLength)
				continue
			}
			if res.ClientSecrets == nil {
				res.ClientSecrets = map[string]string{}
			}
			res.ClientSecrets[cl.ID] = v
		}
	}
	if need.TLSFiles {
		// The server reloads these files while it runs (certificate
		// renewal), so it reads them again; here they are only checked,
		// before any side effect.
		checkTLSFiles("http.tls", c.HTTP.TLS, env, bad)
		c.checkGatewayFiles(env, bad)
		if f := c.UI.LogoFile; f != "" {
			switch b, err := env.ReadFile(f); {
			case err != nil:
				bad("ui.logo_file", "cannot read %s: %v", f, unwrapPath(err))
			case len(b) > MaxLogoBytes:
				bad("ui.logo_file", "%s is larger than %d KiB; use a smaller image", f, MaxLogoBytes>>10)
			default:
				res.Logo = b
			}
		}
	}
	if need.SecretDatabases {
		for i, d := range c.Secrets.Databases {
			key := fmt.Sprintf("secrets.databases[%d] (%s)", i, d.Name)
			var dsn string
			switch {
			case d.DSNEnv != "":
				v, ok := fromEnv(key+".dsn_env", d.DSNEnv)
				if !ok {
					continue
				}
				dsn = v
			case d.DSNFile != "":
				b, err := env.ReadPrivateFile(d.DSNFile)
				if err != nil {
					bad(key+".dsn_file", "cannot read %s: %v (it must be a regular file only its owner can read: chmod 600)", d.DSNFile, unwrapPath(err))
					continue
				}
				dsn = strings.TrimSpace(string(b))
			}
			if dsn == "" {
				bad(key, "the administrative DSN is empty")
				continue
			}
			if res.SecretDatabaseDSNs == nil {
				res.SecretDatabaseDSNs = map[string]string{}
			}
			res.SecretDatabaseDSNs[d.Name] = dsn
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return res, nil
}

// checkTLSFiles checks that a listener's mode-files certificate and key
// are readable and a matching PEM pair.
func checkTLSFiles(key string, t TLS, env Env, bad func(string, string, ...any)) {
	if t.Mode != TLSFiles || t.CertFile == "" || t.KeyFile == "" {
		return
	}
	checkKeyPair(key, t.CertFile, t.KeyFile, env, bad)
}

// checkKeyPair checks that certFile and keyFile (the keys <key>.cert_file
// and <key>.key_file) are readable and a matching PEM pair.
func checkKeyPair(key, certFile, keyFile string, env Env, bad func(string, string, ...any)) {
	cert, cerr := env.ReadFile(certFile)
	if cerr != nil {
		bad(key+".cert_file", "cannot read %s: %v", certFile, unwrapPath(cerr))
	}
	pk, kerr := env.ReadFile(keyFile)
	if kerr != nil {
		bad(key+".key_file", "cannot read %s: %v", keyFile, unwrapPath(kerr))
	}
	if cerr == nil && kerr == nil {
		if _, err := tls.X509KeyPair(cert, pk); err != nil {
			bad(key, "%s and %s are not a matching PEM certificate and private key", certFile, keyFile)
		}
	}
}

// checkGatewayFiles checks the gateway's TLS files and each route's
// upstream_tls files (a CA bundle with at least one PEM certificate, a
// matching client certificate and key), so `config check` finds a wrong
// path before serve does. Paths are as written: relative to the working
// directory, as http.tls's.
func (c *Config) checkGatewayFiles(env Env, bad func(string, string, ...any)) {
	if c.Gateway == nil {
		return
	}
	checkTLSFiles("gateway.tls", c.Gateway.TLS, env, bad)
	for i, r := range c.Gateway.Routes {
		key := fmt.Sprintf("gateway.routes[%d] (%s).upstream_tls", i, r.Name)
		u := r.UpstreamTLS
		if u.CAFile != "" {
			b, err := env.ReadFile(u.CAFile)
			switch {
			case err != nil:
				bad(key+".ca_file", "cannot read %s: %v", u.CAFile, unwrapPath(err))
			case !x509.NewCertPool().AppendCertsFromPEM(b):
				bad(key+".ca_file", "%s holds no PEM certificate", u.CAFile)
			}
		}
		if u.CertFile != "" && u.KeyFile != "" {
			checkKeyPair(key, u.CertFile, u.KeyFile, env, bad)
		}
	}
}

// resolveMasterKey finds the master key: master_key_file, then
// RAMPART_MASTER_KEY, then (dev mode only) <data_dir>/master.key, which
// need not exist yet (serve generates it; other commands then refuse).
func (c *Config) resolveMasterKey(env Env, res *Resolved, bad func(string, string, ...any)) {
	switch {
	case c.MasterKeyFile != "":
		b, err := env.ReadPrivateFile(c.MasterKeyFile)
		if err != nil {
			bad("master_key_file", "%v", err)
			return
		}
		res.MasterKey, res.MasterKeySource = b, "master key file "+c.MasterKeyFile
	case env.Getenv(MasterKeyEnv) != "":
		res.MasterKey, res.MasterKeySource = []byte(env.Getenv(MasterKeyEnv)), MasterKeyEnv
	case c.Dev:
		path := filepath.Join(c.DataDir, DevMasterKeyName)
		res.DevMasterKeyFile, res.MasterKeySource = path, "dev master key file "+path
		b, err := env.ReadPrivateFile(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			// Generated by serve after every check has passed.
		case err != nil:
			bad("data_dir", "dev master key: %v", err)
		default:
			res.MasterKey = b
		}
	default:
		bad("master_key_file", "no master key: set master_key_file to a file (mode 0600) or %s to 32 random bytes in base64 or hex (generate one with `openssl rand -base64 32`), or run `rampart serve --dev` to have one generated", MasterKeyEnv)
	}
}

// unwrapPath drops the path from an *os.PathError (the message names it).
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path) // #nosec G304 -- the operator names the file in the configuration.
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readBounded(f, path)
}

func readBounded(r io.Reader, path string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxResolvedFile+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	if len(b) > maxResolvedFile {
		return nil, fmt.Errorf("%s is larger than %d bytes; is it the right file?", path, maxResolvedFile)
	}
	return b, nil
}
