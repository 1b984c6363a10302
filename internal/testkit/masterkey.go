package testkit

import "encoding/base64"

// MasterKeySize is the length of a master key in bytes.
const MasterKeySize = 32

// The test master key in the two text forms a key file or
// RAMPART_MASTER_KEY accepts. They are deterministic so a failing test
// can be replayed; they are not secret and must never be used outside
// tests.
const (
	MasterKeyBase64 = "+Pj4+Pj4+Pj4+Pj4+Pj4+Pj4+Pj4+Pj4+Pj4+Pj4+Pg="
	MasterKeyHex    = "f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8"
)

// OtherMasterKeyBase64 is a second deterministic key, different from the
// test master key, for tests proving that the wrong key is refused.
const OtherMasterKeyBase64 = "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s="

// MasterKey returns the 32 bytes of the test master key, a fresh copy on
// every call (a test may change its copy). Parse them with the package's
// own parser, e.g. keys.ParseMasterKey.
func MasterKey() []byte { return mustDecode(MasterKeyBase64) }

// OtherMasterKey returns the 32 bytes of OtherMasterKeyBase64, a fresh
// copy on every call.
func OtherMasterKey() []byte { return mustDecode(OtherMasterKeyBase64) }

func mustDecode(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != MasterKeySize {
		panic("testkit: malformed test key constant")
	}
	return b
}
