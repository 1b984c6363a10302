package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Store is what the Log needs from the database. AppendAudit must, in one
// transaction that holds the chain head exclusively (so several instances
// append one chain), read the head, call seal with it, insert the records it
// returns, move the head to the last one, and commit.
type Store interface {
	AppendAudit(ctx context.Context, seal func(prevSeq int64, prevHash []byte) ([]Record, error)) error
	ScanAudit(ctx context.Context, afterSeq int64, limit int) ([]Record, error)
	AuditHead(ctx context.Context) (seq int64, hash []byte, err error)
	LastAudit(ctx context.Context, n int) ([]Record, error)
}

// ErrClosed is returned by Record after Close.
var ErrClosed = errors.New("audit: log is closed")

// MinHMACKey is the smallest pseudonymization key accepted (256 bits).
const MinHMACKey = 32

// Options configures New.
type Options struct {
	Store Store
	// HMACKey keys Pseudonymize; at least 32 bytes, derived from the master key.
	HMACKey []byte
	// BatchSize caps the events appended in one transaction (default 512).
	BatchSize int
	// FlushInterval is how long a batch waits for more events (default 0).
	FlushInterval time.Duration
	Clock         func() time.Time
	Logger        *slog.Logger
	// Registerer receives the rampart_audit_* metrics; nil for none.
	Registerer prometheus.Registerer
}

// Log appends events to the store as a hash chain. One writer goroutine
// groups the events that arrive together into one transaction (group
// commit), so a burst costs few transactions; each Record call returns only
// after its event is committed.
type Log struct {
	store   Store
	key     []byte
	batch   int
	linger  time.Duration
	clock   func() time.Time
	logger  *slog.Logger
	metrics *metrics

	mu      sync.RWMutex
	closed  bool
	senders sync.WaitGroup // Record calls between the closed check and their send
	queue   chan *pending
	done    chan struct{}
}

type pending struct {
	ev  Event
	res chan error
}

// New validates opts and starts the writer.
func New(opts Options) (*Log, error) {
	if opts.Store == nil {
		return nil, errors.New("audit: no store")
	}
	if len(opts.HMACKey) < MinHMACKey {
		return nil, fmt.Errorf("audit: the HMAC key must be at least %d bytes", MinHMACKey)
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 512
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	l := &Log{
		store:   opts.Store,
		key:     append([]byte(nil), opts.HMACKey...),
		batch:   opts.BatchSize,
		linger:  opts.FlushInterval,
		clock:   opts.Clock,
		logger:  opts.Logger,
		metrics: m,
		// A bounded queue: when the database is slower than the event rate,
		// Record blocks (backpressure) instead of memory growing.
		queue: make(chan *pending, 4*opts.BatchSize),
		done:  make(chan struct{}),
	}
	go l.writer()
	return l, nil
}

// Record appends e and returns once it is durable, or the reason it is not.
// Callers must fail the audited action when Record fails. Time is set from
// the Log's clock when zero. Record refuses an invalid event with an error
// wrapping ErrInvalidEvent, and returns ErrClosed after Close. If ctx ends
// while the event waits, Record returns ctx.Err() and the event may or may
// not be committed (evidence of an action then refused, never the reverse).
// Record keeps its own copy of e.Details.
func (l *Log) Record(ctx context.Context, e Event) error {
	if e.Time.IsZero() {
		e.Time = l.clock()
	}
	if err := validate(&e); err != nil {
		return err
	}
	e.Time = normalizeTime(e.Time)
	// The writer reads the map after Record may have returned (ctx ended):
	// a copy keeps a caller reusing its map from racing the hash.
	e.Details = maps.Clone(e.Details)
	if err := ctx.Err(); err != nil {
		return err
	}
	p := &pending{ev: e, res: make(chan error, 1)}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ErrClosed
	}
	l.senders.Add(1)
	l.mu.RUnlock()
	select {
	case l.queue <- p:
		l.senders.Done()
	case <-ctx.Done():
		l.senders.Done()
		return ctx.Err()
	}
	select {
	case err := <-p.res:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting events, waits until every queued event is written
// (or ctx ends) and stops the writer. It is safe to call more than once; a
// Close whose ctx ended leaves the writer draining in the background.
func (l *Log) Close(ctx context.Context) error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		// Senders already past the closed check finish their send (the
		// writer keeps draining), then the queue closes and the writer
		// stops once it is empty.
		go func() {
			l.senders.Wait()
			close(l.queue)
		}()
	}
	l.mu.Unlock()
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: close: %w", ctx.Err())
	}
}

// writer is the single goroutine that appends batches.
func (l *Log) writer() {
	defer close(l.done)
	batch := make([]*pending, 0, l.batch)
	for first := range l.queue {
		batch = append(batch[:0], first)
		batch = l.fill(batch)
		l.flush(batch)
	}
}

// fill adds whatever is queued (waiting up to linger) up to the batch size.
func (l *Log) fill(batch []*pending) []*pending {
	var timeout <-chan time.Time
	if l.linger > 0 {
		t := time.NewTimer(l.linger)
		defer t.Stop()
		timeout = t.C
	}
	for len(batch) < l.batch {
		select {
		case p, ok := <-l.queue:
			if !ok {
				return batch
			}
			batch = append(batch, p)
			continue
		default:
		}
		if timeout == nil {
			return batch
		}
		select {
		case p, ok := <-l.queue:
			if !ok {
				return batch
			}
			batch = append(batch, p)
		case <-timeout:
			return batch
		}
	}
	return batch
}

// flush appends one batch in one transaction and answers every waiter.
func (l *Log) flush(batch []*pending) {
	events := make([]Event, len(batch))
	for i, p := range batch {
		events[i] = p.ev
	}
	start := time.Now()
	// The append has its own deadline: a waiter giving up must not abort
	// the events of the others.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := l.store.AppendAudit(ctx, func(prevSeq int64, prevHash []byte) ([]Record, error) {
		if len(prevHash) != HashSize || prevSeq < 0 {
			return nil, fmt.Errorf("audit: malformed chain head (seq %d, %d-byte hash); run `rampart audit verify`", prevSeq, len(prevHash))
		}
		return seal(prevSeq, prevHash, events), nil
	})
	cancel()
	l.metrics.observe(len(batch), time.Since(start), err)
	if err != nil {
		l.logger.Error("audit append failed; the audited actions fail", "events", len(batch), "err", err)
		err = fmt.Errorf("audit: append: %w", err)
	}
	for _, p := range batch {
		p.res <- err
	}
}

// Pseudonymize returns a keyed pseudonym for a sensitive value (a username
// on a failed login, a token identifier): "hmac:" and the first 128 bits of
// HMAC-SHA256(key, value), base64url. It is deterministic, so someone who
// holds the master key can recompute it to correlate events, but the log
// itself never holds the clear value. 128 bits keep collisions negligible.
func (l *Log) Pseudonymize(value string) string {
	m := hmac.New(sha256.New, l.key)
	m.Write([]byte(value))
	return "hmac:" + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

type metrics struct {
	appended prometheus.Counter
	errors   prometheus.Counter
	batch    prometheus.Histogram
	latency  prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		appended: prometheus.NewCounter(prometheus.CounterOpts{Name: "rampart_audit_events_appended_total", Help: "Audit events committed."}),
		errors:   prometheus.NewCounter(prometheus.CounterOpts{Name: "rampart_audit_append_errors_total", Help: "Failed audit append transactions (their events were refused)."}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "rampart_audit_batch_size", Help: "Events per audit append transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 7)}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "rampart_audit_append_seconds", Help: "Duration of audit append transactions.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
	}
	if reg == nil {
		return m, nil
	}
	// A second Log on the same registry (tests, or a CLI command inside a
	// process that serves) shares the collectors already registered.
	var err error
	if m.appended, err = register(reg, m.appended); err != nil {
		return nil, err
	}
	if m.errors, err = register(reg, m.errors); err != nil {
		return nil, err
	}
	if m.batch, err = register(reg, m.batch); err != nil {
		return nil, err
	}
	if m.latency, err = register(reg, m.latency); err != nil {
		return nil, err
	}
	return m, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("audit: register metrics: %w", err)
	}
	return c, nil
}

func (m *metrics) observe(n int, d time.Duration, err error) {
	if err != nil {
		m.errors.Inc()
		return
	}
	m.appended.Add(float64(n))
	m.batch.Observe(float64(n))
	m.latency.Observe(d.Seconds())
}
