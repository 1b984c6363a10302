package kms

import (
	"bytes"
	"testing"
)

// TestSecretDEKAD: the associated data binds the secret id and the
// version; the snapshot id round-trips to the same associated data.
func TestSecretDEKAD(t *testing.T) {
	ad := SecretDEKAD("0a1b", 7)
	if !bytes.Equal(ad, []byte("rampart/secret-dek/v1/0a1b\x007")) {
		t.Fatalf("ad %q", ad)
	}
	if bytes.Equal(SecretDEKAD("0a1b", 17), SecretDEKAD("0a1b1", 7)) {
		t.Fatal("ambiguous encoding")
	}
	id := SecretDEKID("0a1b", 7)
	sid, v, ok := ParseSecretDEKID(id)
	if !ok || sid != "0a1b" || v != 7 || !bytes.Equal(secretDEKADOf(id), ad) {
		t.Fatalf("ParseSecretDEKID(%q) = %q %d %v", id, sid, v, ok)
	}
	for _, bad := range []string{"", "/", "abc", "abc/", "/7", "abc/0", "abc/-1", "abc/x", "abc/99999999999999999999"} {
		if _, _, ok := ParseSecretDEKID(bad); ok {
			t.Errorf("ParseSecretDEKID(%q) accepted", bad)
		}
		if bytes.HasPrefix(secretDEKADOf(bad), []byte(ADSecretDEKPrefix+"abc")) {
			t.Errorf("malformed id %q maps to a real associated data", bad)
		}
	}
	found := false
	for _, d := range dataKeys {
		if d.purpose == DataKeySecretAudit && d.label == LabelSecretAudit {
			found = true
		}
	}
	if !found {
		t.Fatal("DataKeySecretAudit is not in dataKeys")
	}
}

func FuzzParseSecretDEKID(f *testing.F) {
	f.Add("0a1b/7")
	f.Add("a/b/3")
	f.Add("/1")
	f.Fuzz(func(t *testing.T, id string) {
		sid, v, ok := ParseSecretDEKID(id)
		if !ok {
			return
		}
		if v < 1 || sid == "" {
			t.Fatalf("accepted %q: %q %d", id, sid, v)
		}
		if again := SecretDEKID(sid, v); again != id {
			// Only a canonical decimal round-trips; "a/07" parses as 7.
			if s2, v2, ok2 := ParseSecretDEKID(again); !ok2 || s2 != sid || v2 != v {
				t.Fatalf("%q -> %q %d -> %q", id, sid, v, again)
			}
		}
	})
}
