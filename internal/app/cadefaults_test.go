package app

import (
	"testing"

	"github.com/rampart-auth/rampart/internal/ca"
	"github.com/rampart-auth/rampart/internal/config"
)

// TestCADefaultsAgree: the CA package's fallbacks for zero Options are the
// configuration's defaults and limits of the ca: keys, so a library
// caller and serve get the same CA.
func TestCADefaultsAgree(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ca, model any
	}{
		{"svid_ttl", ca.DefaultSVIDTTL, config.DefaultSVIDTTL},
		{"max_svid_ttl", ca.MaxSVIDTTLLimit, config.MaxSVIDTTL},
		{"intermediate_ttl", ca.DefaultIntermediateTTL, config.DefaultIntermediateTTL},
		{"rotation_propagation", ca.DefaultRotationPropagation, config.DefaultRotationPropagation},
		{"crl_validity", ca.DefaultCRLValidity, config.DefaultCRLValidity},
		{"max_crl_validity", ca.MaxCRLValidity, config.MaxCRLValidity},
		{"max_join_token_ttl", ca.MaxJoinTokenTTL, config.MaxJoinTokenTTL},
	} {
		if tc.ca != tc.model {
			t.Errorf("%s: ca %v, config %v", tc.name, tc.ca, tc.model)
		}
	}
}
