package oauth

import "slices"

// consentResources are the resource servers (the client's configured
// audiences) the request's access tokens will be for: what the consent
// page names and what a consent covers. An audience that is not a
// configured resource server (the default for a client without one) is
// not a third party the user is asked about.
func consentResources(a *authzContext) []string {
	var out []string
	for _, aud := range a.audience {
		if slices.Contains(a.client.Audience, aud) && !slices.Contains(out, aud) {
			out = append(out, aud)
		}
	}
	slices.Sort(out)
	return out
}

// covers reports whether a remembered consent covers every scope and
// every resource of a request.
func covers(c *Consent, scopes, resources []string) bool {
	return subset(scopes, c.Scopes) && subset(resources, c.Audience)
}

func subset(sub, of []string) bool {
	for _, x := range sub {
		if !slices.Contains(of, x) {
			return false
		}
	}
	return true
}

// mergeConsent is the consent to store after the user allowed scopes for
// resources, given the consent remembered before (nil if none), keeping
// only what the client may still ask for.
//
// A consent is one (scopes, resources) pair, meaning "every scope for
// every resource". The union of two pairs is stored only when it means
// nothing more than the two did: when one contains the other, or they
// share the scopes or the resources. Otherwise (notes:read for A, then
// reports:write for B) the union would grant reports:write for A, never
// shown: the new grant replaces the old one, and the user may be asked
// again for the old one later. Asking once more is the safe failure.
func mergeConsent(old *Consent, client *Client, scopes, resources []string) (s, r []string) {
	s, r = slices.Clone(scopes), slices.Clone(resources)
	if old != nil {
		os := keep(old.Scopes, client.Scopes)
		or := keep(old.Audience, client.Audience)
		if equalSet(os, s) || equalSet(or, r) || (subset(os, s) && subset(or, r)) || (subset(s, os) && subset(r, or)) {
			s, r = union(s, os), union(r, or)
		}
	}
	slices.Sort(s)
	slices.Sort(r)
	return s, r
}

// keep is the elements of l that are in allowed.
func keep(l, allowed []string) []string {
	var out []string
	for _, x := range l {
		if slices.Contains(allowed, x) {
			out = append(out, x)
		}
	}
	return out
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func equalSet(a, b []string) bool { return subset(a, b) && subset(b, a) }
