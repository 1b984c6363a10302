package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"strconv"

	"github.com/rampart-auth/rampart/internal/kms"
)

// Envelope encryption (NIST SP 800-57 Part 1 §6.2: a data key per object,
// wrapped by a key-encryption key). Each version has its own random
// 32-byte DEK; the value is sealed with AES-256-GCM under it with a random
// 96-bit nonce (NIST SP 800-38D §8.2.2: random nonces, one use per key:
// a DEK seals exactly one value, so the nonce bound is moot), and the DEK
// is sealed by the keyring (the master key's KEK) with
// kms.SecretDEKAD(secretID, version). Both associated data bind the row
// to its identity, so a ciphertext or DEK moved to another version, path
// or secret fails to open (ErrTampered), never opens as a wrong value.

const (
	dekSize   = 32 // AES-256
	nonceSize = 12 // GCM standard nonce
	// adValuePrefix heads the associated data of a value.
	adValuePrefix = "rampart/secret/v1/"
)

// valueAD is the associated data of version of the secret secretID at
// path: "rampart/secret/v1/" + secretID + NUL + path + NUL + version. The
// id is hex and the path has no NUL (ParsePath), so the encoding is
// unambiguous.
func valueAD(secretID string, path Path, version int64) []byte {
	return []byte(adValuePrefix + secretID + "\x00" + string(path) + "\x00" + strconv.FormatInt(version, 10))
}

// seal encrypts v for version of the secret secretID at path and returns
// the sealed DEK and the ciphertext (nonce || GCM output).
func seal(s Sealer, secretID string, path Path, version int64, v Value) (dekSealed, ct []byte, err error) {
	dek := make([]byte, dekSize)
	defer wipe(dek)
	if _, err := rand.Read(dek); err != nil {
		return nil, nil, fmt.Errorf("secrets: data key: %w", err)
	}
	aead, err := newGCM(dek)
	if err != nil {
		return nil, nil, err
	}
	nonce := make([]byte, nonceSize, nonceSize+v.Len()+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, fmt.Errorf("secrets: nonce: %w", err)
	}
	ct = aead.Seal(nonce, nonce, v.raw(), valueAD(secretID, path, version))
	dekSealed, err = s.Seal(kms.SecretDEKAD(secretID, version), dek)
	if err != nil {
		return nil, nil, fmt.Errorf("secrets: seal data key: %w", err)
	}
	return dekSealed, ct, nil
}

// open decrypts a version's row; any failure to authenticate the DEK or
// the value is ErrTampered (the cause stays out of the message).
func open(s Sealer, secretID string, path Path, r VersionRecord) (Value, error) {
	if len(r.DEKSealed) == 0 || len(r.Ciphertext) < nonceSize {
		return Value{}, ErrTampered
	}
	dek, err := s.Open(kms.SecretDEKAD(secretID, r.Version), r.DEKSealed)
	if err != nil {
		// The keyring's cause (wrong key, altered bytes) is not kept: to
		// the caller both are a row that does not open here.
		return Value{}, ErrTampered
	}
	defer wipe(dek)
	if len(dek) != dekSize {
		return Value{}, ErrTampered
	}
	aead, err := newGCM(dek)
	if err != nil {
		return Value{}, err
	}
	pt, err := aead.Open(nil, r.Ciphertext[:nonceSize], r.Ciphertext[nonceSize:], valueAD(secretID, path, r.Version))
	if err != nil {
		return Value{}, ErrTampered
	}
	// The Value owns pt (no copy to wipe).
	return ownValue(pt), nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets: cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets: gcm: %w", err)
	}
	return aead, nil
}
