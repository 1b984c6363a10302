package testkit

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func TestMasterKey(t *testing.T) {
	k := MasterKey()
	if len(k) != MasterKeySize || !bytes.Equal(k, bytes.Repeat([]byte{0xf8}, MasterKeySize)) {
		t.Fatalf("MasterKey = %x", k)
	}
	if hex.EncodeToString(k) != MasterKeyHex {
		t.Fatalf("MasterKeyHex %q is not the key's hex", MasterKeyHex)
	}
	k[0] ^= 1 // a caller's change does not leak into the next call
	if MasterKey()[0] != 0xf8 {
		t.Fatal("MasterKey returned shared storage")
	}
	o := OtherMasterKey()
	if len(o) != MasterKeySize || bytes.Equal(o, MasterKey()) {
		t.Fatalf("OtherMasterKey = %x, want 32 bytes unlike MasterKey", o)
	}
}
