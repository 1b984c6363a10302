// Package secrets is Rampart's secrets manager core: versioned secrets
// under validated paths, sealed at rest with envelope encryption, with
// staging labels, check-and-set writes, soft delete and destruction,
// capability policies that deny by default, and an audit event for every
// operation.
//
// # Storage and envelope
//
// A secret is a row (random 128-bit id, path, newest version number,
// metadata) with versions and labels (internal/store/sqlstore,
// migration 0015_secrets). Each version has its own random 32-byte data
// key (DEK); the value is sealed with AES-256-GCM under it (random 96-bit
// nonce) with the associated data
//
//	"rampart/secret/v1/" + secretID + "\x00" + path + "\x00" + version
//
// and the DEK is sealed by the keyring (the master key's KEK) with
// kms.SecretDEKAD(secretID, version). A row that is altered, swapped
// between versions, copied to another secret or path, or re-parented to
// another secret id fails to authenticate and reads as ErrTampered
// (audited, reason "tampered"), never as another value. The random id
// means a secret destroyed and made again at the same path does not open
// a restored old row. `rampart master-key rotate` re-wraps every DEK in
// its transaction (kms Snapshot/Rotation SecretDEKs); a version insert
// takes the key ring lock and refuses a DEK sealed under a retired key
// version (an instance not yet restarted with the new key). DEKs are not
// cached unsealed: a read unseals one 32-byte DEK (one AES-GCM open) and
// reads the store once (one query joins the label to the version row and
// its labels).
//
// # Versions and labels
//
// Meta.CurrentVersion is the newest version number, and a Put's CAS
// compares with it (Vault KV v2's cas): nil no check, 0 the secret must
// not exist, n the newest version must be n. The store applies a Put with
// one conditional UPDATE (or the INSERT of a new path, unique), so of
// concurrent writers with the same expectation exactly one commits; a Put
// without CAS that loses a race retries on the new state. The version a
// read returns is the one labelled current (AWS Secrets Manager staging
// labels): a Put labels its version current unless told otherwise
// (pending, for a rotation), and moving current, by a Put or MoveLabel,
// points previous at the old current in the same transaction. A Put
// destroys the versions numbered at most newest-KeepVersions that carry
// no label.
//
// Delete is soft (the ciphertext stays, Undelete restores it; a read is
// ErrDeleted). Deleting the version current points at keeps the label,
// so reads of the secret say deleted rather than silently falling back to
// an older value (Vault's behaviour for a deleted latest version); no
// label can be moved onto a deleted or destroyed version (ErrInvalid),
// and the current label cannot be removed (move it). Destroy erases the
// ciphertext and DEK of versions (the rows stay, marked destroyed; a read
// is ErrDestroyed; a label on it stays, so reads through it say
// destroyed) or, without versions, the secret with every version and
// label.
//
// # Policy
//
// Every method checks the policy first, before the store is consulted,
// so a principal without the capability gets ErrForbidden whether the
// path exists or not (no existence oracle). KindAdmin and KindSystem hold
// every capability; a client, user or SPIFFE principal needs a rule that
// names it (client id, role, or SPIFFE ID compared as a parsed ID),
// grants the capability and covers the path by whole segments, and a
// token-based principal must carry every scope of the rule. Capabilities:
// read (Get), write (Put, MoveLabel, RemoveLabel; rotate also allows the
// label moves of a rotation), list (List, filtered per path; Versions),
// delete (Delete, Undelete), destroy, and rotate and lease for the
// rotation and dynamic-credential engines.
//
// # Audit
//
// Each operation records one event (audit.ActionSecret*) with Target the
// path (List: the prefix; also Details path or prefix), Outcome success or failure and Reason a code
// (forbidden, invalid, not_found, conflict, deleted, destroyed,
// tampered); Details carry the version, labels and value_hmac, the hex
// HMAC-SHA-256 of the value under kms.DataKeySecretAudit, never the value.
// A successful read whose event cannot be recorded is not handed out.
//
// Value keeps secret bytes out of logs, errors and JSON: every printing
// and marshalling path prints "[REDACTED]"; Bytes is the only way out.
package secrets
