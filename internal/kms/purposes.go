package kms

import (
	"strconv"
	"strings"
)

// The one list of purposes the master key serves. Every subkey is an HKDF
// output with its own label (RFC 5869 §3.2: the info string separates
// purposes), and every sealed value is bound to its purpose and row by its
// AEAD associated data, so a key or ciphertext of one purpose is useless
// for another. The VALUES are frozen: existing deployments derived their
// keys and sealed their secrets with exactly these bytes, and changing one
// would orphan them. A new purpose gets a new constant here.

// HKDF labels (MasterKey.Derive).
const (
	// LabelKEK derives the key-encryption key (AES-256-GCM) that seals
	// every secret at rest: signing keys, the TLS CA key, the data keys.
	LabelKEK = "rampart key-encryption v1"
	// LabelKEKCheck derives the key of the key-check value recorded per
	// key version (MasterKey.CheckValue), so a start can recognise the
	// current, a retired or a foreign master key.
	LabelKEKCheck = "rampart kek check v1"
	// LabelClientSecret derived the HMAC-SHA-256 key of client secrets
	// (secret_env clients and dynamic clients, whose hashes are stored).
	// It is now the legacy value of DataKeyClientSecret.
	LabelClientSecret = "rampart client secret v1" // #nosec G101 -- a key-derivation label, not a secret
	// LabelAuditHMAC derived the audit pseudonymization key (HMAC of
	// subjects and addresses in the audit log). Legacy value of
	// DataKeyAuditHMAC.
	LabelAuditHMAC = "rampart audit hmac v1"
	// LabelCSRF derived the key of the login/consent pages' CSRF tokens.
	// Legacy value of DataKeyCSRF.
	LabelCSRF = "rampart csrf v1"
	// LabelLoginProof derived the key that signs the proof of a fresh
	// sign-in carried across the authorize redirect. Legacy value of
	// DataKeyLoginProof.
	LabelLoginProof = "rampart login proof v1"
	// LabelGatewayShard derives the initial value of DataKeyGatewayShard
	// (a store without the row, at key version 1).
	LabelGatewayShard = "rampart gateway shard v1"
	// LabelDPoPNonce derives the initial value of DataKeyDPoPNonce (a
	// store without the row, at key version 1).
	LabelDPoPNonce = "rampart dpop nonce v1"
	// LabelSecretAudit derives the initial value of DataKeySecretAudit (a
	// store without the row, at key version 1).
	LabelSecretAudit = "rampart secret audit v1"
)

// AEAD associated data (KEK.Seal / KEK.Open). The versioned header of each
// ciphertext is authenticated in front of these (see seal.go).
const (
	// ADSigningKeyPrefix, followed by the kid, binds a sealed signing key
	// (signing_keys.private_enc, envelope format 1) to its row: a
	// ciphertext copied to another kid does not open.
	ADSigningKeyPrefix = "rampart/signing-key/v1/"
	// ADTLSCAKey binds the sealed local TLS CA key (data_dir/tls/
	// ca.key.sealed) to its purpose.
	ADTLSCAKey = "rampart/tls-ca/v1"
	// ADDataKeyPrefix, followed by the purpose, binds a sealed data key
	// (kms_data_keys.sealed) to its row: a data key moved to another
	// purpose does not open.
	ADDataKeyPrefix = "rampart/data-key/v1/"
	// ADTOTPPrefix, followed by the user id, binds a sealed TOTP secret
	// (user_totp.secret_sealed) to its user: a sealed secret copied to
	// another user's row does not open.
	ADTOTPPrefix = "rampart/totp/v1/"
	// ADCAKeyPrefix, followed by the authority id, binds a sealed CA
	// private key (ca_authorities.key_sealed: the SPIFFE root and
	// intermediates) to its certificate: a key copied to another
	// authority's row does not open.
	ADCAKeyPrefix = "rampart/ca-key/v1/"
	// ADSecretDEKPrefix, followed by the secret id, a NUL and the version
	// number, binds the sealed data key of one version of a stored secret
	// (secret_versions.dek_sealed) to that version: a DEK copied to another
	// version or another secret does not open.
	ADSecretDEKPrefix = "rampart/secret-dek/v1/"
)

// SecretDEKAD is the associated data of the sealed DEK of version of the
// secret secretID (a random hex id: it holds no NUL, so the encoding is
// unambiguous).
func SecretDEKAD(secretID string, version int64) []byte {
	return []byte(ADSecretDEKPrefix + secretID + "\x00" + strconv.FormatInt(version, 10))
}

// SecretDEKID is the Sealed.ID of the DEK of version of the secret
// secretID in a Snapshot ("<secretID>/<version>"): a rotation derives the
// associated data from it.
func SecretDEKID(secretID string, version int64) string {
	return secretID + "/" + strconv.FormatInt(version, 10)
}

// ParseSecretDEKID splits a SecretDEKID.
func ParseSecretDEKID(id string) (secretID string, version int64, ok bool) {
	i := strings.LastIndexByte(id, '/')
	if i <= 0 {
		return "", 0, false
	}
	v, err := strconv.ParseInt(id[i+1:], 10, 64)
	if err != nil || v < 1 {
		return "", 0, false
	}
	return id[:i], v, true
}

// secretDEKADOf is the associated data of the DEK whose Sealed.ID is id.
// A malformed id gets an associated data no DEK was sealed with, so it
// fails to open and stops the rotation (nothing is written).
func secretDEKADOf(id string) []byte {
	sid, v, ok := ParseSecretDEKID(id)
	if !ok {
		return []byte(ADSecretDEKPrefix + "\x00malformed id")
	}
	return SecretDEKAD(sid, v)
}

// CAKeyAD is the associated data of the sealed private key of the CA
// authority id.
func CAKeyAD(id string) []byte { return []byte(ADCAKeyPrefix + id) }

// TOTPSecretAD is the associated data of the sealed TOTP secret of user.
func TOTPSecretAD(userID string) []byte { return []byte(ADTOTPPrefix + userID) }

// SigningKeyAD is the associated data of the sealed signing key kid.
func SigningKeyAD(kid string) []byte { return []byte(ADSigningKeyPrefix + kid) }

// DataKey names the purpose of a 32-byte data key: a random (or, for a
// store that predates data keys, legacy-derived) key stored sealed in the
// store, so that a master-key rotation re-wraps it and it keeps its value:
// client secret hashes and audit pseudonyms made before a rotation still
// verify after it.
type DataKey string

// Data keys.
const (
	// DataKeyClientSecret is the HMAC-SHA-256 key of client secrets.
	DataKeyClientSecret DataKey = "client-secret" // #nosec G101 -- a purpose name, not a secret
	// DataKeyAuditHMAC is the audit pseudonymization key.
	DataKeyAuditHMAC DataKey = "audit-hmac"
	// DataKeyCSRF is the CSRF token key of the login and consent pages.
	DataKeyCSRF DataKey = "csrf"
	// DataKeyLoginProof is the key of the fresh sign-in proof.
	DataKeyLoginProof DataKey = "login-proof"
	// DataKeyGatewayShard keys the gateway's shuffle-shard hash: shared by
	// the fleet (every instance puts a tenant on the same upstreams) and
	// secret (a tenant cannot choose an identity that lands on a victim's
	// shard).
	DataKeyGatewayShard DataKey = "gateway-shard"
	// DataKeyDPoPNonce keys the token endpoint's DPoP server nonces (RFC
	// 9449 §8): HMAC of a time slot, shared by the fleet so a nonce one
	// instance issued is accepted by every other, without shared state.
	DataKeyDPoPNonce DataKey = "dpop-nonce"
	// DataKeySecretAudit keys the HMAC-SHA-256 of secret values in the
	// secrets manager's audit events (value_hmac): an operator can tell
	// whether two events saw the same value without the log holding it.
	DataKeySecretAudit DataKey = "secret-audit"
)

// dataKeys lists every data key with the HKDF label its legacy value was
// derived with (a store at key version 1 without the row initialises it to
// MasterKey.Derive(label): the key every deployment used before).
var dataKeys = []struct {
	purpose DataKey
	label   string
}{
	{DataKeyClientSecret, LabelClientSecret},
	{DataKeyAuditHMAC, LabelAuditHMAC},
	{DataKeyCSRF, LabelCSRF},
	{DataKeyLoginProof, LabelLoginProof},
	{DataKeyGatewayShard, LabelGatewayShard},
	{DataKeyDPoPNonce, LabelDPoPNonce},
	{DataKeySecretAudit, LabelSecretAudit},
}

// DataKeyAD is the associated data of the sealed data key of purpose p.
func DataKeyAD(p DataKey) []byte { return []byte(ADDataKeyPrefix + string(p)) }
