package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// JoinTokenRefusedError is Run's answer when the CA refused the join token
// (used, expired, unknown, or not for the requested ID): a new one is
// needed (exit 1).
type JoinTokenRefusedError struct{ err error }

func (e *JoinTokenRefusedError) Error() string {
	return fmt.Sprintf("agent: the CA refused the join token (%v); a new join token is needed", e.err)
}
func (e *JoinTokenRefusedError) Unwrap() error { return e.err }

// loop is the agent's one goroutine of work: obtain the SVID at once
// (enrolment, or renewal of the one found in --out), then renew at half
// of its lifetime, retry with backoff on failure, refresh the bundle and
// CRL between renewals, and stop at ctx's end or when the SVID expired
// and cannot be renewed.
func (a *Agent) loop(ctx context.Context, cur *svid) error {
	next := a.s.Now()
	var refreshAt time.Time
	failures := 0
	for {
		now := a.s.Now()
		if cur != nil && !cur.valid(now) && !a.canEnrol() {
			a.metrics.expiring.Set(1)
			err := &ExpiredError{NotAfter: cur.notAfter()}
			a.log.Error(err.Error(), slog.String("spiffe_id", cur.id.String()))
			return err
		}
		switch {
		case !now.Before(next):
			ns, err := a.attempt(ctx, cur, now)
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				a.metrics.renewals.WithLabelValues(outcomeFailure).Inc()
				var te *trustError
				var jr *JoinTokenRefusedError
				if errors.As(err, &te) || errors.As(err, &jr) {
					a.log.Error(err.Error())
					return err
				}
				var hint time.Duration
				var ce *caError
				if errors.As(err, &ce) {
					hint = ce.retryAfter
				}
				var life time.Duration
				if cur != nil {
					life = cur.lifetime()
				}
				next = now.Add(retryDelay(failures, life, hint, a.s.Jitter()))
				failures++
				a.logFailure(cur, now, next, err)
				break
			}
			a.metrics.renewals.WithLabelValues(outcomeSuccess).Inc()
			cur, failures = ns, 0
			a.publish(cur, true)
			next = renewAt(cur, a.s.Jitter())
			refreshAt = now.Add(refreshEvery(cur.crl))
			a.log.Info("agent: SVID obtained", slog.String("spiffe_id", cur.id.String()),
				slog.Time("not_after", cur.notAfter()), slog.Time("renew_at", next))
		case cur != nil && !now.Before(refreshAt):
			if ns := a.refresh(ctx, cur, now); ns != nil {
				cur = ns
				a.holder.set(cur)
				if a.s.OutDir != "" {
					if err := writeTrustFiles(a.s.OutDir, cur); err != nil {
						a.log.Error("agent: could not write the bundle and CRL files", slog.String("error", err.Error()))
					}
				}
			}
			refreshAt = now.Add(refreshEvery(cur.crl))
		}
		if cur != nil && expiring(cur, now) {
			a.metrics.expiring.Set(1)
		}
		wake := next
		if cur != nil {
			wake = minTime(wake, refreshAt, cur.notAfter())
		}
		t := time.NewTimer(max(wake.Sub(a.s.Now()), 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// canEnrol reports whether the agent holds a credential it may use: the
// join token before its first success, client credentials always.
func (a *Agent) canEnrol() bool { return a.cred != nil }

// logFailure logs a failed attempt: WARN from a quarter of the lifetime
// left (and while the agent has no SVID at all), INFO before.
func (a *Agent) logFailure(cur *svid, now, next time.Time, err error) {
	attrs := []any{slog.String("error", err.Error()), slog.Time("retry_at", next)}
	switch {
	case cur == nil:
		a.log.Warn("agent: enrolment failed; retrying", attrs...)
	case expiring(cur, now):
		attrs = append(attrs, slog.String("spiffe_id", cur.id.String()), slog.Time("not_after", cur.notAfter()),
			slog.Duration("left", cur.notAfter().Sub(now)))
		a.log.Warn("agent: SVID renewal failed and the SVID expires soon; serving it until then", attrs...)
	default:
		attrs = append(attrs, slog.String("spiffe_id", cur.id.String()), slog.Time("not_after", cur.notAfter()))
		a.log.Info("agent: SVID renewal failed; retrying", attrs...)
	}
}

// attempt obtains a new SVID: a renewal over mTLS with cur while it is
// valid, else (or after a refused renewal, with client credentials) an
// enrolment with the credential. A fresh key is generated each time.
func (a *Agent) attempt(ctx context.Context, cur *svid, now time.Time) (*svid, error) {
	renew := cur != nil && cur.valid(now) && !(a.refused && a.canEnrol())
	want := a.s.want
	var td spiffeid.TrustDomain
	var authorization string
	var tlsConf *tls.Config
	if renew {
		want, tlsConf = cur.id, a.sessionTLS(cur)
	} else {
		if a.cred == nil {
			return nil, errors.New("agent: no credential to enrol with")
		}
		tlsConf = firstContactTLS(a.anchors, a.s.Now, &td)
		authorization = a.cred.authorization
	}
	key, keyPEM, err := newKey()
	if err != nil {
		return nil, err
	}
	csr, err := newCSR(key, want)
	if err != nil {
		return nil, err
	}
	iss, err := a.ca.requestSVID(ctx, tlsConf, authorization, csr)
	var ce *caError
	if errors.As(err, &ce) && ce.refused() {
		if renew {
			a.refused = true
		} else if !a.cred.reusable {
			return nil, &JoinTokenRefusedError{err}
		}
	}
	if err != nil {
		return nil, err
	}
	if renew {
		td = cur.td
	}
	ns, err := newSVID(iss, key, keyPEM, td, want, now)
	if err != nil {
		return nil, err
	}
	a.refused = false
	if !renew {
		if a.cred.reusable {
			if a.anchors.pin == nil {
				a.anchors.bundle = ns.bundle
			}
		} else {
			a.cred = nil // the join token is consumed (one-time)
		}
	}
	return ns, nil
}

// refresh fetches the bundle and the CRL and returns cur with those that
// changed, or nil when neither did. A bundle of another trust domain or
// one the current SVID does not verify to, and a CRL not signed by the
// bundle, past its nextUpdate or older than the current one (RFC 5280
// §5.2.3: CRL numbers increase), are refused and logged.
func (a *Agent) refresh(ctx context.Context, cur *svid, now time.Time) *svid {
	if !cur.valid(now) {
		return nil
	}
	tlsConf := a.sessionTLS(cur)
	ns := cur
	bundle, err := a.ca.fetchBundle(ctx, tlsConf)
	if err == nil {
		var td spiffeid.TrustDomain
		if td, err = bundleTD(bundle); err == nil && td != cur.td {
			err = fmt.Errorf("agent: the fetched bundle is of %s, not %s", td, cur.td)
		}
		if err == nil {
			err = verifyChain(chainOf(cur), bundle, now)
		}
	}
	if err != nil {
		a.log.Info("agent: bundle refresh failed; keeping the current bundle", slog.String("error", err.Error()))
	} else if !bytes.Equal(encodeCerts(bundle), cur.bundlePEM) {
		ns = ns.withBundle(bundle)
		a.log.Info("agent: trust bundle updated", slog.Int("authorities", len(bundle)))
	}
	crl, err := a.ca.fetchCRL(ctx, tlsConf)
	if err == nil {
		err = checkCRL(crl, ns.bundle, now)
	}
	if err == nil && cur.crl != nil && crl.Number != nil && cur.crl.Number != nil && crl.Number.Cmp(cur.crl.Number) < 0 {
		err = errors.New("agent: the fetched CRL is older than the current one")
	}
	if err != nil {
		a.log.Info("agent: CRL refresh failed; keeping the current CRL", slog.String("error", err.Error()))
	} else if cur.crl == nil || !bytes.Equal(crl.Raw, cur.crl.Raw) {
		ns = ns.withCRL(crl)
	}
	if ns == cur {
		return nil
	}
	return ns
}

func minTime(t time.Time, more ...time.Time) time.Time {
	for _, u := range more {
		if u.Before(t) {
			t = u
		}
	}
	return t
}
