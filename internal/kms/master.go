// Package kms owns Rampart's master key and everything derived from it:
// the one list of purposes (HKDF labels and AEAD associated data,
// purposes.go), versioned key-encryption keys that seal every secret at
// rest (KEK), the key versions and sealed data keys recorded in the store
// (Keyring), and the rotation of the master key (Rotate).
package kms

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// MasterKeySize is the length of the master key: 256 bits, the AES-256 key
// size (NIST SP 800-57 Pt.1 Rev.5, 128-bit post-quantum margin).
const MasterKeySize = 32

// maxMasterKeyFile bounds how much of a key file is read: a valid one is at
// most 64 hex characters plus whitespace.
const maxMasterKeyFile = 4096

// errNoMasterKey explains how to provide a master key.
var errNoMasterKey = errors.New("kms: no master key: set RAMPART_MASTER_KEY or master_key_file " +
	"to 32 random bytes in base64 or hex (generate one with `openssl rand -base64 32`), " +
	"or run `rampart serve --dev` to have one generated")

// MasterKey is the 32-byte root secret that encrypts every secret at rest.
// It never touches data itself: every use gets its own HKDF subkey
// (Derive; RFC 5869 §3.3, key separation), the key-encryption key among
// them (NewKEK). It is never printed: String, GoString, Format and LogValue
// redact it, so a stray log line or %v cannot leak it.
type MasterKey struct {
	key [MasterKeySize]byte
}

func newMasterKey(b []byte) (*MasterKey, error) {
	if len(b) != MasterKeySize {
		return nil, fmt.Errorf("kms: master key must be %d bytes, got %d", MasterKeySize, len(b))
	}
	mk := &MasterKey{}
	copy(mk.key[:], b)
	return mk, nil
}

// NewMasterKey returns the master key made of the 32 bytes b (copied).
func NewMasterKey(b []byte) (*MasterKey, error) { return newMasterKey(b) }

// LoadMasterKey returns the master key from file when file is set, else
// from envValue (the content of RAMPART_MASTER_KEY). The value is 32 bytes
// encoded as base64 (standard or URL alphabet, padded or not) or as 64 hex
// characters; surrounding whitespace is ignored. A key file readable by the
// group or others is refused. With neither, the error says how to generate
// a key.
func LoadMasterKey(file string, envValue string) (*MasterKey, error) {
	if file != "" {
		return loadMasterKeyFile(file)
	}
	if strings.TrimSpace(envValue) == "" {
		return nil, errNoMasterKey
	}
	b, err := parseMasterKey(envValue)
	if err != nil {
		return nil, fmt.Errorf("kms: RAMPART_MASTER_KEY: %w", err)
	}
	return newMasterKey(b)
}

// ParseMasterKey returns the master key encoded in text (base64 or hex, as
// LoadMasterKey accepts), for callers that read the file or variable
// themselves (config.Resolve). Errors never quote the text.
func ParseMasterKey(text []byte) (*MasterKey, error) {
	b, err := parseMasterKey(string(text))
	if err != nil {
		return nil, fmt.Errorf("kms: %w", err)
	}
	return newMasterKey(b)
}

// ReadMasterKeyFile returns the text of the master key file at path, still
// to be parsed (ParseMasterKey). It is the one reader of that file, for
// LoadMasterKey and for config.Resolve (injected by the command): it
// refuses a file that is not a regular file or that the group or others
// can access (whoever reads it can decrypt every sealed secret), and one too
// large to be a key. A missing file is reported as os.ErrNotExist.
func ReadMasterKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path) // #nosec G304 -- the path is the operator's master_key_file setting.
	// The error wraps the *fs.PathError: errors.Is(err, fs.ErrNotExist) holds.
	if err != nil {
		return nil, fmt.Errorf("kms: master key file: %w", err)
	}
	defer f.Close()
	// Stat the open descriptor, not the path, so the file checked is the
	// file read.
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("kms: master key file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("kms: master key file %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("kms: master key file %s is accessible by group or others (mode %04o); run `chmod 600 %s`", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxMasterKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("kms: master key file: %w", err)
	}
	if len(data) > maxMasterKeyFile {
		return nil, fmt.Errorf("kms: master key file %s is too large to be a key", path)
	}
	return data, nil
}

func loadMasterKeyFile(file string) (*MasterKey, error) {
	data, err := ReadMasterKeyFile(file)
	if err != nil {
		return nil, err
	}
	b, err := parseMasterKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("kms: master key file %s: %w", file, err)
	}
	return newMasterKey(b)
}

// parseMasterKey decodes a 32-byte key from hex or base64. Errors never
// quote the input: it is a secret, even when malformed.
func parseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*MasterKeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	// Strict rejects non-zero padding bits, so each key has exactly one
	// accepted spelling per alphabet.
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding.Strict(), base64.RawStdEncoding.Strict(),
		base64.URLEncoding.Strict(), base64.RawURLEncoding.Strict(),
	} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == MasterKeySize {
			return b, nil
		}
	}
	if s == "" {
		return nil, errors.New("empty master key")
	}
	return nil, fmt.Errorf("not a %d-byte key in base64 or hex (%d characters given; expected 43 or 44 base64 or 64 hex; generate one with `openssl rand -base64 32`)", MasterKeySize, len(s))
}

// EnsureMasterKeyFile loads the master key at path, creating it first (32
// random bytes, base64, mode 0600, its directory 0700) when it does not
// exist. It is for dev mode; created tells the caller to print a loud
// notice that a key was generated and must be backed up.
func EnsureMasterKeyFile(path string) (mk *MasterKey, created bool, err error) {
	if _, err := os.Lstat(path); err == nil {
		mk, err := LoadMasterKey(path, "")
		return mk, false, err
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("kms: master key file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("kms: create master key directory: %w", err)
	}
	mk, err = CreateMasterKeyFile(path)
	if errors.Is(err, fs.ErrExist) {
		mk, err := LoadMasterKey(path, "")
		return mk, false, err
	}
	return mk, err == nil, err
}

// CreateMasterKeyFile writes a new master key (32 random bytes, base64,
// mode 0600, synced) to path, which must not exist (the error then wraps
// fs.ErrExist), and returns it.
func CreateMasterKeyFile(path string) (*MasterKey, error) {
	b := make([]byte, MasterKeySize)
	defer clear(b)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("kms: %w", err)
	}
	// O_EXCL: never overwrite a key another process created meanwhile (that
	// would orphan every secret it sealed).
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) // #nosec G304 -- the path is the configured data directory or next to master_key_file.
	if err != nil {
		return nil, fmt.Errorf("kms: create master key file: %w", err)
	}
	_, werr := f.WriteString(base64.StdEncoding.EncodeToString(b) + "\n")
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("kms: write master key file: %w", err)
	}
	return newMasterKey(b)
}

// Derive returns a 32-byte subkey for one purpose, named by label, with
// HKDF-SHA256 (RFC 5869). The master key is uniformly random, so no salt is
// needed (§3.1); the label is the HKDF info, which separates purposes
// (§3.2). Distinct labels give independent keys.
func (mk *MasterKey) Derive(label string) []byte {
	k, err := hkdf.Key(sha256.New, mk.key[:], nil, label, 32)
	if err != nil {
		// Only possible for an output longer than 255*32 bytes.
		panic("kms: hkdf: " + err.Error())
	}
	return k
}

// checkMessage is what the key-check value authenticates: a fixed string,
// so the value identifies the key and reveals nothing else.
const checkMessage = "rampart key-check value"

// CheckValue returns the key-check value of mk: HMAC-SHA256 under
// Derive(LabelKEKCheck) of a fixed string. It identifies the key (the store
// records one per key version, so a start can tell the current key, a
// retired one and a foreign one apart) and, being a one-way function of a
// subkey used for nothing else, exposes nothing about mk or its other
// subkeys.
func (mk *MasterKey) CheckValue() []byte {
	m := hmac.New(sha256.New, mk.Derive(LabelKEKCheck))
	m.Write([]byte(checkMessage))
	return m.Sum(nil)
}

// Equal reports, in constant time, whether mk and other are the same key.
func (mk *MasterKey) Equal(other *MasterKey) bool {
	return other != nil && hmac.Equal(mk.key[:], other.key[:])
}

const redacted = "kms.MasterKey(REDACTED)"

// String redacts the key.
func (MasterKey) String() string { return redacted }

// GoString redacts the key (%#v).
func (MasterKey) GoString() string { return redacted }

// Format redacts the key for every fmt verb, including %x and %d, which
// would otherwise print the bytes.
func (MasterKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// LogValue redacts the key in log/slog output.
func (MasterKey) LogValue() slog.Value { return slog.StringValue(redacted) }
