package oauth

import (
	"slices"
	"testing"
)

// TestMergeConsent: a remembered consent (scopes × resources) is widened
// only when the union means nothing the user was not shown; otherwise the
// new grant replaces it.
func TestMergeConsent(t *testing.T) {
	client := &Client{Scopes: []string{"a", "b", "c"}, Audience: []string{"A", "B"}}
	for _, tc := range []struct {
		name              string
		old               *Consent
		scopes, resources []string
		wantS, wantR      []string
	}{
		{"first", nil, []string{"a"}, []string{"A"}, []string{"a"}, []string{"A"}},
		{"same-resources-union-scopes", &Consent{Scopes: []string{"a"}, Audience: []string{"A"}}, []string{"b"}, []string{"A"}, []string{"a", "b"}, []string{"A"}},
		{"same-scopes-union-resources", &Consent{Scopes: []string{"a"}, Audience: []string{"A"}}, []string{"a"}, []string{"B"}, []string{"a"}, []string{"A", "B"}},
		{"new-contains-old", &Consent{Scopes: []string{"a"}, Audience: []string{"A"}}, []string{"a", "b"}, []string{"A", "B"}, []string{"a", "b"}, []string{"A", "B"}},
		{"old-contains-new", &Consent{Scopes: []string{"a", "b"}, Audience: []string{"A", "B"}}, []string{"a"}, []string{"A"}, []string{"a", "b"}, []string{"A", "B"}},
		// a for A, then b for B: the union would grant b for A, never shown.
		{"reject/cross-product", &Consent{Scopes: []string{"a"}, Audience: []string{"A"}}, []string{"b"}, []string{"B"}, []string{"b"}, []string{"B"}},
		{"reject/crossed-containment", &Consent{Scopes: []string{"a", "b"}, Audience: []string{"A"}}, []string{"a"}, []string{"A", "B"}, []string{"a"}, []string{"A", "B"}},
		{"drops-what-the-client-lost", &Consent{Scopes: []string{"a", "gone"}, Audience: []string{"A", "gone"}}, []string{"a"}, []string{"A"}, []string{"a"}, []string{"A"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, r := mergeConsent(tc.old, client, tc.scopes, tc.resources)
			if !slices.Equal(s, tc.wantS) || !slices.Equal(r, tc.wantR) {
				t.Fatalf("got %v %v, want %v %v", s, r, tc.wantS, tc.wantR)
			}
			// Whatever is stored covers the new grant.
			if !covers(&Consent{Scopes: s, Audience: r}, tc.scopes, tc.resources) {
				t.Fatal("the stored consent does not cover what was just allowed")
			}
		})
	}
}
