package mtls

import (
	"log/slog"
	"time"
)

// sourceOptions are the settings shared by FileSource, DirSource and
// SocketSource.
type sourceOptions struct {
	logger          *slog.Logger
	now             func() time.Time
	interval        time.Duration
	intervalSet     bool
	requireFreshCRL bool
}

// SourceOption configures a FileSource, DirSource or SocketSource. An
// option that does not apply to a source (WithRequireFreshCRL for a
// FileSource) is ignored by it.
type SourceOption func(*sourceOptions)

// newSourceOptions applies opts over the defaults; interval is the
// source's default reload interval.
func newSourceOptions(interval time.Duration, opts []SourceOption) sourceOptions {
	o := sourceOptions{logger: slog.Default(), now: time.Now, interval: interval}
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	if !o.intervalSet {
		o.interval = interval
	}
	return o
}

// WithClock sets the clock used for validity checks, CRL freshness and the
// reload interval; the default (and nil) is time.Now.
func WithClock(now func() time.Time) SourceOption {
	return func(o *sourceOptions) {
		if now != nil {
			o.now = now
		}
	}
}

// WithReloadInterval sets how long after the last look a handshake looks
// at the files again (FileSource, DirSource); the default is
// DefaultReloadInterval for a FileSource and DefaultDirReloadInterval for
// a DirSource, and zero or less looks at every handshake.
func WithReloadInterval(d time.Duration) SourceOption {
	return func(o *sourceOptions) { o.interval, o.intervalSet = d, true }
}

// WithLogger sets the logger for reloads, failed reloads, refused CRLs and
// expiry and staleness warnings; the default (and nil) is slog.Default().
func WithLogger(l *slog.Logger) SourceOption {
	return func(o *sourceOptions) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithRequireFreshCRL makes a DirSource or SocketSource fail closed on
// revocation data: while the CRL of a peer's trust domain is missing or
// past its nextUpdate, IsRevoked reports every certificate of that trust
// domain as revoked, so every peer of it is refused until a fresh CRL
// arrives. Without it a stale CRL is still applied (its serials stay
// refused) and reported by Stale and a warning. It suits a service whose
// peers are all in its own trust domain: the agent delivers only that
// domain's CRL.
func WithRequireFreshCRL() SourceOption {
	return func(o *sourceOptions) { o.requireFreshCRL = true }
}
