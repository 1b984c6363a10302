package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/testkit"
)

// journal records what the components did, in order.
type journal struct {
	mu  sync.Mutex
	log []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.log = append(j.log, s)
}

func (j *journal) all() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.log)
}

// fakePart is a component that journals its calls; failStart makes Start fail.
type fakePart struct {
	name      string
	j         *journal
	failStart bool
	run       func(ctx context.Context) error // nil: not a Runner
}

func (p *fakePart) Start(context.Context) error {
	if p.failStart {
		p.j.add("start-fail " + p.name)
		return errors.New(p.name + " cannot start")
	}
	p.j.add("start " + p.name)
	return nil
}

func (p *fakePart) Stop(context.Context) error { p.j.add("stop " + p.name); return nil }

type runnerPart struct{ *fakePart }

func (r runnerPart) Run(ctx context.Context) error {
	err := r.run(ctx)
	r.j.add("run-returned " + r.name)
	return err
}

func quiet() Options { return Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))} }

// TestRunStopsInReverseOrderAfterRunnersReturn: parts stop in reverse
// start order, and only once every Runner has returned, so no background
// goroutine outlives the store it uses.
func TestRunStopsInReverseOrderAfterRunnersReturn(t *testing.T) {
	j := &journal{}
	a := New(quiet())
	a.Add("store", &fakePart{name: "store", j: j})
	a.Add("loop", runnerPart{&fakePart{name: "loop", j: j, run: func(ctx context.Context) error {
		<-ctx.Done()
		time.Sleep(20 * time.Millisecond) // a slow last iteration still finishes before the store stops
		return nil
	}}})
	a.Add("listener", &fakePart{name: "listener", j: j})
	ctx, cancel := context.WithCancel(context.Background())
	readyCalled := false
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, func() { readyCalled = true; j.add("ready") }) }()
	testkit.WaitFor(t, "the ready callback", 5*time.Second, func() bool { return slices.Contains(j.all(), "ready") })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("clean stop returned %v", err)
	}
	want := []string{"start store", "start loop", "start listener", "ready", "run-returned loop", "stop listener", "stop loop", "stop store"}
	if got := j.all(); !slices.Equal(got, want) || !readyCalled {
		t.Fatalf("journal\n got %v\nwant %v", got, want)
	}
}

// TestStartFailureStopsWhatStarted: a part that cannot start stops the
// parts before it, in reverse order, never starts those after it, never
// runs anything, and its error is returned.
func TestStartFailureStopsWhatStarted(t *testing.T) {
	j := &journal{}
	a := New(quiet())
	a.Add("redis", &fakePart{name: "redis", j: j})
	a.Add("store", &fakePart{name: "store", j: j})
	a.Add("audit", &fakePart{name: "audit", j: j, failStart: true})
	a.Add("listener", runnerPart{&fakePart{name: "listener", j: j, run: func(context.Context) error { return nil }}})
	err := a.Run(context.Background(), func() { j.add("ready") })
	if err == nil || err.Error() != "audit cannot start" {
		t.Fatalf("got %v, want the start error", err)
	}
	want := []string{"start redis", "start store", "start-fail audit", "stop store", "stop redis"}
	if got := j.all(); !slices.Equal(got, want) {
		t.Fatalf("journal\n got %v\nwant %v", got, want)
	}
}

// TestRunnerFailureStopsTheApp: one failing Runner cancels the others and
// the app stops, returning the failure with the part's name.
func TestRunnerFailureStopsTheApp(t *testing.T) {
	j := &journal{}
	a := New(quiet())
	a.Add("store", &fakePart{name: "store", j: j})
	a.Add("poll", runnerPart{&fakePart{name: "poll", j: j, run: func(ctx context.Context) error { <-ctx.Done(); return nil }}})
	a.Add("listener", runnerPart{&fakePart{name: "listener", j: j, run: func(context.Context) error { return errors.New("accept: too many open files") }}})
	err := a.Run(context.Background(), nil)
	if err == nil || err.Error() != "listener: accept: too many open files" {
		t.Fatalf("got %v", err)
	}
	got := j.all()
	if got[len(got)-1] != "stop store" || !slices.Contains(got, "run-returned poll") {
		t.Fatalf("journal %v: the poll did not return or the store did not stop last", got)
	}
	if slices.Index(got, "run-returned poll") > slices.Index(got, "stop store") {
		t.Fatalf("journal %v: the store stopped before the poll returned", got)
	}
}

// TestLaterBuildsOnStart: a Later component is built from what earlier
// parts brought up, when it starts, and runs and stops as built.
func TestLaterBuildsOnStart(t *testing.T) {
	j := &journal{}
	var dep string
	a := New(quiet())
	a.Add("dep", Funcs{OnStart: func(context.Context) error { dep = "ready"; return nil }})
	a.Add("later", Later(func(context.Context) (Component, error) {
		j.add("build with dep " + dep)
		return runnerPart{&fakePart{name: "built", j: j, run: func(context.Context) error { return nil }}}, nil
	}))
	if err := a.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	want := []string{"build with dep ready", "start built", "run-returned built", "stop built"}
	if got := j.all(); !slices.Equal(got, want) {
		t.Fatalf("journal\n got %v\nwant %v", got, want)
	}
}

// TestEveryRunsUntilStopped: the periodic job runs at its interval and not
// after the app stops.
func TestEveryRunsUntilStopped(t *testing.T) {
	var mu sync.Mutex
	n := 0
	a := New(quiet())
	a.Add("job", Every{Interval: time.Millisecond, Job: func(context.Context) { mu.Lock(); n++; mu.Unlock() }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, nil) }()
	testkit.WaitFor(t, "three runs of the job", 5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return n >= 3 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	after := n
	mu.Unlock()
	time.Sleep(10 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if n != after {
		t.Fatalf("the job ran %d more times after the app stopped", n-after)
	}
}
