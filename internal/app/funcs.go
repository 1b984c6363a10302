package app

import (
	"context"
	"time"
)

// Funcs is a Component from functions; a nil function does nothing.
type Funcs struct {
	OnStart func(ctx context.Context) error
	OnStop  func(ctx context.Context) error
}

// Start calls OnStart.
func (f Funcs) Start(ctx context.Context) error {
	if f.OnStart == nil {
		return nil
	}
	return f.OnStart(ctx)
}

// Stop calls OnStop.
func (f Funcs) Stop(ctx context.Context) error {
	if f.OnStop == nil {
		return nil
	}
	return f.OnStop(ctx)
}

// Background is a Component whose only work is Loop, run until the App
// stops (e.g. the key manager's poll). Start runs Init first when set.
type Background struct {
	Init func(ctx context.Context) error
	Loop func(ctx context.Context)
}

// Start calls Init.
func (b Background) Start(ctx context.Context) error {
	if b.Init == nil {
		return nil
	}
	return b.Init(ctx)
}

// Run runs Loop until ctx is cancelled.
func (b Background) Run(ctx context.Context) error {
	if b.Loop != nil {
		b.Loop(ctx)
	}
	return nil
}

// Stop does nothing: Loop has returned before any Stop is called.
func (Background) Stop(context.Context) error { return nil }

// Every is a Runner calling Job every Interval until the App stops. A
// failing Job is logged by the job itself and does not stop the App: a
// periodic clean-up that fails once is retried at the next tick.
type Every struct {
	Interval time.Duration
	Job      func(ctx context.Context)
}

// Start does nothing.
func (Every) Start(context.Context) error { return nil }

// Run calls Job at every tick until ctx is cancelled.
func (e Every) Run(ctx context.Context) error {
	t := time.NewTicker(e.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			e.Job(ctx)
		}
	}
}

// Stop does nothing.
func (Every) Stop(context.Context) error { return nil }

var (
	_ Component = Funcs{}
	_ Runner    = Background{}
	_ Runner    = Every{}
)

// Later is a Component built when it starts, from parts that earlier
// components brought up (a listener needs the audit log, which needs the
// store). Run and Stop go to the built component.
func Later(build func(ctx context.Context) (Component, error)) Component {
	return &later{build: build}
}

type later struct {
	build func(ctx context.Context) (Component, error)
	c     Component
}

func (l *later) Start(ctx context.Context) error {
	c, err := l.build(ctx)
	if err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil {
		return err
	}
	l.c = c
	return nil
}

func (l *later) Run(ctx context.Context) error {
	if r, ok := l.c.(Runner); ok {
		return r.Run(ctx)
	}
	return nil
}

func (l *later) Stop(ctx context.Context) error { return l.c.Stop(ctx) }
