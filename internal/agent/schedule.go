package agent

import (
	"crypto/x509"
	"time"
)

// Renewal schedule. The agent renews at half of the SVID's lifetime, as
// SPIRE's agent does, so that a CA outage of up to half a lifetime costs
// nothing; ±10 % of that half as jitter spreads the renewals of agents
// started together (a thundering herd after a CA restart).
const (
	renewFraction = 0.5
	renewJitter   = 0.1
	// warnFraction: from this fraction of the lifetime left, every failed
	// attempt logs WARN and rampart_agent_svid_expiring is 1.
	warnFraction = 0.25
)

// Retry backoff bounds: capped exponential backoff with jitter
// ("Exponential Backoff And Jitter", AWS Architecture Blog 2015). The cap
// is a twentieth of the lifetime, between 100 ms and 1 min, so that a
// short-lived SVID still gets many attempts before it expires and a long
// one does not hammer a CA that is down.
const (
	backoffCapMin = 100 * time.Millisecond
	backoffCapMax = time.Minute
	backoffBase   = time.Second
)

// Bundle and CRL refresh: every quarter of the CRL's validity, at most a
// minute apart, at least a second apart. The CA regenerates the CRL only
// once half its validity has passed (contract.md), so a CRL fetched just
// before that is already half stale; a quarter more bounds what the agent
// hands out at three quarters of the validity, leaving the last quarter
// for the sources' reload, so a peer with mtls.WithRequireFreshCRL never
// holds a CRL past its nextUpdate while the CA is reachable.
const (
	refreshMax = time.Minute
	refreshMin = time.Second
)

// renewAt returns when s should be renewed: start + lifetime/2 ± 10 % of
// lifetime/2. jitter is uniform in [0, 1).
func renewAt(s *svid, jitter float64) time.Time {
	half := time.Duration(float64(s.lifetime()) * renewFraction)
	delta := time.Duration(float64(half) * renewJitter * (2*jitter - 1))
	return s.start.Add(half + delta)
}

// expiring reports whether at most a quarter of s's lifetime is left at
// now.
func expiring(s *svid, now time.Time) bool {
	return s.notAfter().Sub(now) <= time.Duration(float64(s.lifetime())*warnFraction)
}

// retryDelay returns how long to wait before retry number n (0 for the
// first retry) of an SVID with the given lifetime (0 when the agent has
// none yet): base·2ⁿ capped, then "equal jitter" (half fixed, half
// random) so retries of many agents spread out without a delay ever
// collapsing to zero. hint (a Retry-After) raises the delay, up to the cap.
func retryDelay(n int, lifetime time.Duration, hint time.Duration, jitter float64) time.Duration {
	maxD := backoffCapMax
	if lifetime > 0 {
		maxD = min(max(lifetime/20, backoffCapMin), backoffCapMax)
	}
	base := min(backoffBase, maxD/8)
	d := base
	for i := 0; i < n && d < maxD; i++ {
		d *= 2
	}
	d = min(d, maxD)
	d = d/2 + time.Duration(float64(d/2)*jitter)
	if hint > d {
		d = min(hint, maxD)
	}
	return d
}

// refreshEvery returns how often the bundle and CRL are fetched: a
// quarter of the CRL's validity, between a second and a minute.
func refreshEvery(crl *x509.RevocationList) time.Duration {
	if crl == nil || crl.NextUpdate.IsZero() {
		return refreshMax
	}
	return min(max(crl.NextUpdate.Sub(crl.ThisUpdate)/4, refreshMin), refreshMax)
}
