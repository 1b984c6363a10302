package kms

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
)

// Ciphertext format (format 1):
//
//	magic "rk" (2 bytes) | format 1 (1 byte) | KEK version (uint32, big endian) | nonce (12) | ciphertext | tag (16)
//
// The 7-byte header is authenticated: the AEAD associated data is
// header || purpose AD, so a changed version or format byte fails to open.
// Ciphertexts sealed before versioning have no header (nonce || ct || tag)
// and are version 1: only a version-1 KEK opens them.
const (
	magic0, magic1 = 'r', 'k'
	formatV1       = 1
	// HeaderSize is the length of the versioned header.
	HeaderSize = 7
)

// Sealer seals and opens small secrets with associated data. *KEK and
// *Keyring implement it.
type Sealer interface {
	Seal(ad, plaintext []byte) ([]byte, error)
	Open(ad, ciphertext []byte) ([]byte, error)
}

var (
	_ Sealer = (*KEK)(nil)
	_ Sealer = (*Keyring)(nil)
)

// ErrVersion is wrapped by Open when a ciphertext was sealed under another
// key version than the KEK's.
var ErrVersion = errors.New("kms: key version mismatch")

// KEK is the key-encryption key of one master-key version: AES-256-GCM
// under MasterKey.Derive(LabelKEK), tagged with the version it seals under.
type KEK struct {
	version uint32
	aead    cipher.AEAD
}

// NewKEK returns the key-encryption key of mk as key version version (≥ 1).
func NewKEK(mk *MasterKey, version uint32) (*KEK, error) {
	if mk == nil || version == 0 {
		return nil, errors.New("kms: a KEK needs a master key and a version ≥ 1")
	}
	block, err := aes.NewCipher(mk.Derive(LabelKEK))
	if err != nil {
		return nil, fmt.Errorf("kms: %w", err)
	}
	// A random 96-bit nonce per message, generated inside and prefixed to
	// the ciphertext: NIST SP 800-38D §8.2.2 allows 2^32 messages per key
	// with random nonces, far beyond the few secrets Rampart seals, and
	// the caller can never reuse a nonce by mistake.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("kms: %w", err)
	}
	return &KEK{version: version, aead: aead}, nil
}

// Version returns the key version k seals under.
func (k *KEK) Version() uint32 { return k.version }

func header(version uint32) []byte {
	h := make([]byte, HeaderSize)
	h[0], h[1], h[2] = magic0, magic1, formatV1
	binary.BigEndian.PutUint32(h[3:], version)
	return h
}

// ParseHeader returns the key version and body of a versioned ciphertext;
// ok is false when c does not start with a format-1 header (a legacy,
// version-1 ciphertext, or garbage).
func ParseHeader(c []byte) (version uint32, body []byte, ok bool) {
	if len(c) < HeaderSize || c[0] != magic0 || c[1] != magic1 || c[2] != formatV1 {
		return 0, nil, false
	}
	return binary.BigEndian.Uint32(c[3:HeaderSize]), c[HeaderSize:], true
}

// CiphertextVersion returns the key version a ciphertext claims: its
// header's, or 1 for a headerless (legacy) one. It authenticates nothing;
// only Open does.
func CiphertextVersion(c []byte) uint32 {
	if v, _, ok := ParseHeader(c); ok {
		return v
	}
	return 1
}

// Seal encrypts plaintext under k, binding ad (authenticated, not stored)
// and the header to the result: header || nonce || ciphertext || tag.
func (k *KEK) Seal(ad, plaintext []byte) ([]byte, error) {
	if k == nil || k.aead == nil {
		return nil, errors.New("kms: seal: no key")
	}
	h := header(k.version)
	// #nosec G407 -- the nil nonce is not a fixed IV: aead is cipher.NewGCMWithRandomNonce, which draws a fresh random 96-bit nonce per call and prefixes it.
	return k.aead.Seal(h, nil, plaintext, append(h, ad...)), nil
}

// Open decrypts what Seal produced under the same version with the same
// ad; a version-1 KEK also opens legacy headerless ciphertexts. It fails
// when a bit (version byte included) was changed, the ad differs (a
// ciphertext moved to another row or purpose), the ciphertext was sealed
// under another key version (the error wraps ErrVersion and names both),
// or the master key is not the one that sealed it.
func (k *KEK) Open(ad, ciphertext []byte) ([]byte, error) {
	if k == nil || k.aead == nil {
		return nil, errors.New("kms: open: no key")
	}
	if v, body, ok := ParseHeader(ciphertext); ok {
		err := errAuth
		if v == k.version {
			var pt []byte
			if pt, err = k.open(body, append(header(v), ad...)); err == nil {
				return pt, nil
			}
		}
		// The magic may be the first bytes of a legacy nonce (2^-24 odds):
		// GCM authentication tells the two forms apart.
		if pt, err := k.openLegacy(ad, ciphertext); err == nil {
			return pt, nil
		}
		if v != k.version {
			return nil, fmt.Errorf("%w: the value is sealed under key version %d, this master key is version %d", ErrVersion, v, k.version)
		}
		return nil, err
	}
	if k.version != 1 {
		if len(ciphertext) < k.aead.NonceSize()+k.aead.Overhead() {
			return nil, errShort
		}
		return nil, fmt.Errorf("%w: the value has no version header (key version 1), this master key is version %d", ErrVersion, k.version)
	}
	return k.openLegacy(ad, ciphertext)
}

var (
	errShort = errors.New("kms: open: ciphertext too short")
	errAuth  = errors.New("kms: open: authentication failed (wrong master key, tampered data or wrong context)")
)

func (k *KEK) openLegacy(ad, c []byte) ([]byte, error) {
	if k.version != 1 {
		return nil, errAuth
	}
	return k.open(c, ad)
}

func (k *KEK) open(c, ad []byte) ([]byte, error) {
	if len(c) < k.aead.NonceSize()+k.aead.Overhead() {
		return nil, errShort
	}
	pt, err := k.aead.Open(nil, nil, c, ad)
	if err != nil {
		return nil, errAuth
	}
	return pt, nil
}
