// Package app is Rampart's lifecycle: the parts of a running server are
// Components, started in order, their background work run under one
// errgroup, and stopped in reverse order once every background goroutine
// has returned. So no goroutine outlives what it uses: the key manager's
// poll and the purge loop are joined before the store they query is
// closed, and the audit log is flushed after the last request that could
// record into it has finished.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"
)

// Component is one part of the running server.
//
// Start brings the part up and returns once it is usable (a listener is
// bound, a database is migrated); an error aborts the start and stops the
// parts already started. Stop releases it; it is called once, in reverse
// start order, only for parts whose Start succeeded, and only after every
// Runner has returned.
type Component interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// Runner is implemented by components with work of their own (a
// listener's accept loop, a periodic job). Run blocks until ctx is
// cancelled, returning nil, or until the work fails, returning the error,
// which stops the whole application.
type Runner interface {
	Run(ctx context.Context) error
}

// DefaultStopTimeout bounds the whole reverse-order stop when Options
// leaves it zero: long enough for a graceful HTTP shutdown and an audit
// flush, short enough that a stuck dependency cannot hold a restart.
const DefaultStopTimeout = 30 * time.Second

// App runs a list of named components.
type App struct {
	logger      *slog.Logger
	stopTimeout time.Duration
	parts       []part
}

type part struct {
	name string
	c    Component
}

// Options tune New.
type Options struct {
	Logger      *slog.Logger
	StopTimeout time.Duration // default DefaultStopTimeout
}

// New returns an empty App.
func New(opts Options) *App {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = DefaultStopTimeout
	}
	return &App{logger: opts.Logger, stopTimeout: opts.StopTimeout}
}

// Add appends a component; components start in the order they are added.
func (a *App) Add(name string, c Component) {
	a.parts = append(a.parts, part{name: name, c: c})
}

// Run starts every component, calls ready (when not nil) once all have
// started, runs every Runner until ctx is cancelled or one of them fails,
// waits for all of them to return, and stops the started components in
// reverse order. It returns the first start or run error joined with any
// stop errors; a cancellation of ctx is a clean stop, not an error.
func (a *App) Run(ctx context.Context, ready func()) error {
	started, err := a.start(ctx)
	if err != nil {
		return errors.Join(err, a.stop(ctx, started))
	}
	if ready != nil {
		ready()
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, p := range started {
		if r, ok := p.c.(Runner); ok {
			g.Go(func() error {
				if err := r.Run(gctx); err != nil {
					return fmt.Errorf("%s: %w", p.name, err)
				}
				return nil
			})
		}
	}
	runErr := g.Wait() // every Runner has returned: nothing uses a part any more
	return errors.Join(runErr, a.stop(ctx, started))
}

// start starts the parts in order and returns those that started.
func (a *App) start(ctx context.Context) ([]part, error) {
	started := make([]part, 0, len(a.parts))
	for _, p := range a.parts {
		if err := ctx.Err(); err != nil {
			return started, err
		}
		if err := p.c.Start(ctx); err != nil {
			return started, err
		}
		a.logger.Debug("component started", "component", p.name)
		started = append(started, p)
	}
	return started, nil
}

// stop stops parts in reverse order with a fresh deadline (ctx may be
// cancelled already: stopping is exactly what follows a cancellation).
func (a *App) stop(ctx context.Context, parts []part) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.stopTimeout)
	defer cancel()
	var errs []error
	for i := len(parts) - 1; i >= 0; i-- {
		p := parts[i]
		if err := p.c.Stop(sctx); err != nil {
			a.logger.Error("component stop failed", "component", p.name, "err", err)
			errs = append(errs, fmt.Errorf("stop %s: %w", p.name, err))
			continue
		}
		a.logger.Debug("component stopped", "component", p.name)
	}
	return errors.Join(errs...)
}
