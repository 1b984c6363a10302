package oauth

import (
	"testing"

	"github.com/rampart-auth/rampart/internal/config"
)

// TestFAPIClientRules: the one helper per rule. A fapi2 client must push,
// send DPoP proofs, authenticate with private_key_jwt even when its row
// names no method (a store row edited by hand), and does not rotate; a
// client without the profile keeps its own settings.
func TestFAPIClientRules(t *testing.T) {
	fapi := &Client{Profile: config.ProfileFAPI2, SecretHash: "hmac-sha256$x"}
	if !fapi.requiresPAR() || !fapi.requiresDPoP() || !fapi.usesPrivateKeyJWT() || fapi.rotatesRefresh() {
		t.Fatalf("fapi2: par %v dpop %v pkjwt %v rotates %v", fapi.requiresPAR(), fapi.requiresDPoP(), fapi.usesPrivateKeyJWT(), fapi.rotatesRefresh())
	}
	plain := &Client{}
	if plain.requiresPAR() || plain.requiresDPoP() || plain.usesPrivateKeyJWT() || !plain.rotatesRefresh() {
		t.Fatal("a client without the profile changed")
	}
	own := &Client{RequirePAR: true, RequireDPoP: true, AuthMethod: config.AuthMethodPrivateKeyJWT}
	if !own.requiresPAR() || !own.requiresDPoP() || !own.usesPrivateKeyJWT() || !own.rotatesRefresh() {
		t.Fatal("a client's own settings are not honoured")
	}
	if got := fapi.assertionAlgorithms(); len(got) != 3 {
		t.Fatalf("fapi2 assertion algorithms %v", got)
	}
}
