package rotation_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secrets/rotation"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// TestRotateStateMachine: one rotation on each store gives exactly one
// current version (new, passing the rotator's Test), previous at the old
// current, no pending label; every step is audited without the value.
func TestRotateStateMachine(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			p := path(t, "team/app/db-password")
			r := randomRotator(t)
			ev := newEnv(t, driver, []rotation.Schedule{{Path: p, Rotator: "random", Impl: r}})
			old := ev.put(t, p, "initial-value-1234")
			st, err := ev.e.Rotate(ctx, admin, p, rotation.Request{Reason: "manual"})
			if err != nil {
				t.Fatal(err)
			}
			if st.Step != rotation.StepDone || st.PendingVersion != 2 || st.Attempts != 0 || st.LastError != "" || !st.LastRotated.Equal(t0) || st.RunID == "" {
				t.Fatalf("status: %+v", st)
			}
			s := ev.checkRotated(t, p, r, old, 2)
			if got := ev.rec.rotateSteps(); !slices.Equal(got, []string{"start", "create", "set", "test", "finish"}) {
				t.Fatalf("audited steps: %v", got)
			}
			for _, e := range ev.rec.All() {
				if e.Action != audit.ActionSecretRotate {
					continue
				}
				d := e.Details
				if e.Target != string(p) || e.Actor != "system:rotation" || d["run_id"] != st.RunID || d["reason"] != "manual" || d["rotator"] != "random" || d["requested_by"] != "cli" {
					t.Fatalf("event: %+v", e)
				}
				if d["step"] != "start" && d["pending_version"] != "2" {
					t.Fatalf("event without the pending version: %+v", e)
				}
			}
			ev.noValue(t, "rotation", s.Value.Bytes())
			ev.noValue(t, "rotation", []byte("initial-value-1234"))
			// A second rotation moves previous to the first rotation's value.
			if _, err := ev.e.Rotate(ctx, admin, p, rotation.Request{}); err != nil {
				t.Fatal(err)
			}
			ev.checkRotated(t, p, r, 2, 3)
		})
	}
}

// TestRotateNewSecret: a rotation of a path without a secret makes its
// first version (no previous).
func TestRotateNewSecret(t *testing.T) {
	p := path(t, "team/new")
	r := randomRotator(t)
	ev := newEnv(t, "sqlite", []rotation.Schedule{{Path: p, Rotator: "random", Impl: r}})
	if _, err := ev.e.Rotate(context.Background(), admin, p, rotation.Request{}); err != nil {
		t.Fatal(err)
	}
	ev.checkRotated(t, p, r, 0, 1)
	meta, _ := ev.state(t, p)
	if _, ok := meta.Labels[secrets.LabelPrevious]; ok {
		t.Fatalf("previous on a first version: %+v", meta.Labels)
	}
}

// TestRotateTestFailure: a rotator whose Test fails leaves current as it
// was, records a reason code (no value in the error, audit or logs), stays
// resumable with backoff, and after MaxAttempts gives up: the pending
// label is removed, never two candidate versions.
func TestRotateTestFailure(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			p := path(t, "team/failing")
			leak := "target-said-" + strings.Repeat("x", 8)
			f := &fakeRotator{inner: randomRotator(t), fail: map[string]error{"Test": errors.New("login refused: " + leak)}}
			ev := newEnv(t, driver, []rotation.Schedule{{Path: p, Rotator: "random", Impl: f}})
			old := ev.put(t, p, "the-old-value-5678")
			_, err := ev.e.Rotate(ctx, admin, p, rotation.Request{})
			var se *rotation.StepError
			if !errors.As(err, &se) || se.Step != rotation.StepTest || se.Code != "test_failed" || strings.Contains(err.Error(), leak) {
				t.Fatalf("first attempt: %v", err)
			}
			meta, _ := ev.state(t, p)
			pending := meta.Labels[secrets.LabelPending]
			if meta.Labels[secrets.LabelCurrent] != old || pending != 2 {
				t.Fatalf("after a failed test: %+v", meta.Labels)
			}
			pv, err := ev.m.Get(ctx, admin, p, secrets.Selector{Version: pending})
			if err != nil {
				t.Fatal(err)
			}
			st, err := ev.e.Status(ctx, admin, p)
			if err != nil || st.Step != rotation.StepTest || st.Attempts != 1 || st.LastError != "test_failed" {
				t.Fatalf("status: %+v %v", st, err)
			}
			// Backing off: Resume before the backoff does nothing.
			if err := ev.e.Resume(ctx); err != nil {
				t.Fatal(err)
			}
			if st, _ := ev.e.Status(ctx, admin, p); st.Attempts != 1 {
				t.Fatalf("resumed inside the backoff: %+v", st)
			}
			for i := 2; i <= rotation.DefaultMaxAttempts; i++ {
				ev.clock.Add(rotation.MaxBackoff)
				if err := ev.e.Resume(ctx); !errors.As(err, &se) {
					t.Fatalf("attempt %d: %v", i, err)
				}
			}
			st, err = ev.e.Status(ctx, admin, p)
			if err != nil || st.Attempts != rotation.DefaultMaxAttempts || st.LastError != "test_failed" || st.Step != rotation.StepTest {
				t.Fatalf("status after giving up: %+v %v", st, err)
			}
			meta, vs := ev.state(t, p)
			if meta.Labels[secrets.LabelCurrent] != old || len(vs) != 2 {
				t.Fatalf("current moved or versions added: %+v %d", meta.Labels, len(vs))
			}
			if _, ok := meta.Labels[secrets.LabelPending]; ok {
				t.Fatalf("pending label left after giving up: %+v", meta.Labels)
			}
			steps := ev.rec.rotateSteps()
			if n := strings.Count(strings.Join(steps, " "), "test!"); n != rotation.DefaultMaxAttempts || steps[len(steps)-1] != "give_up:test!" {
				t.Fatalf("audited steps: %v", steps)
			}
			if !slices.Contains(f.log(), "Test(false)") || slices.Contains(f.log(), "Finish(false)") {
				t.Fatalf("calls: %v", f.log())
			}
			ev.noValue(t, "failure", pv.Value.Bytes())
			ev.noValue(t, "failure", []byte(leak))
			// Once given up, the next Rotate starts a fresh run.
			delete(f.fail, "Test")
			if _, err := ev.e.Rotate(ctx, admin, p, rotation.Request{}); err != nil {
				t.Fatal(err)
			}
			ev.checkRotated(t, p, f, old, 3)
		})
	}
}

// TestRotateEmergency: Request{Now: true} calls Set and Finish with
// emergency and revokes the path's leases.
func TestRotateEmergency(t *testing.T) {
	ctx := context.Background()
	p := path(t, "team/leaked")
	f := &fakeRotator{inner: randomRotator(t)}
	rv := &revoker{}
	ev := newEnv(t, "sqlite", []rotation.Schedule{{Path: p, Rotator: "random", Impl: f}}, func(o *rotation.Options) { o.Revoker = rv })
	old := ev.put(t, p, "leaked-value-0001")
	st, err := ev.e.Rotate(ctx, admin, p, rotation.Request{Now: true, Reason: "suspicion"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Reason != "suspicion" {
		t.Fatalf("status: %+v", st)
	}
	ev.checkRotated(t, p, f.inner, old, 2)
	if got := f.log(); !slices.Equal(got, []string{"NewValue(false)", "Set(true)", "Test(false)", "Finish(true)"}) {
		t.Fatalf("calls: %v", got)
	}
	if !slices.Equal(rv.paths, []secrets.Path{p}) {
		t.Fatalf("revoked: %v", rv.paths)
	}
	for _, e := range ev.rec.All() {
		if e.Action == audit.ActionSecretRotate && e.Details["emergency"] != "true" {
			t.Fatalf("event not marked emergency: %+v", e)
		}
	}
	// A normal rotation: no emergency, no revocation.
	if _, err := ev.e.Rotate(ctx, admin, p, rotation.Request{}); err != nil {
		t.Fatal(err)
	}
	if got := f.log(); !slices.Equal(got[4:], []string{"NewValue(false)", "Set(false)", "Test(false)", "Finish(false)"}) || len(rv.paths) != 1 {
		t.Fatalf("calls: %v, revoked %v", got, rv.paths)
	}
}

// TestRotatePolicy: Rotate and Status by a principal without the
// capability are ErrForbidden whether or not the path exists or has a
// rotator (no oracle); read allows Status only; rotate allows both.
func TestRotatePolicy(t *testing.T) {
	ctx := context.Background()
	p := path(t, "team/a/db")
	pols, err := secrets.CompilePolicies([]secrets.PolicyRule{
		{Name: "readers", Paths: []string{"team/a"}, Capabilities: []string{"read"}, Clients: []string{"reader"}},
		{Name: "rotators", Paths: []string{"team/a"}, Capabilities: []string{"rotate"}, Clients: []string{"rotator"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ev := newEnv(t, "sqlite", []rotation.Schedule{{Path: p, Rotator: "random", Impl: randomRotator(t)}}, func(o *rotation.Options) { o.Policies = pols })
	ev.put(t, p, "policy-value-0002")
	reader := secrets.Principal{Kind: secrets.KindClient, ID: "reader"}
	rotator := secrets.Principal{Kind: secrets.KindClient, ID: "rotator"}
	stranger := secrets.Principal{Kind: secrets.KindClient, ID: "stranger"}
	for _, tc := range []struct {
		name string
		p    secrets.Principal
		path string
	}{
		{"reject/stranger-existing", stranger, "team/a/db"},
		{"reject/stranger-missing", stranger, "team/a/none"},
		{"reject/stranger-other-tree", stranger, "team/ab/db"},
		{"reject/reader-rotate", reader, "team/a/db"},
		{"reject/reader-rotate-missing", reader, "team/a/none"},
		{"reject/rotator-prefix-confusion", rotator, "team/ab"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ev.e.Rotate(ctx, tc.p, path(t, tc.path), rotation.Request{Now: true}); !errors.Is(err, secrets.ErrForbidden) {
				t.Fatalf("Rotate: %v", err)
			}
			if tc.p.ID != reader.ID {
				if _, err := ev.e.Status(ctx, tc.p, path(t, tc.path)); !errors.Is(err, secrets.ErrForbidden) {
					t.Fatalf("Status: %v", err)
				}
			}
		})
	}
	if _, err := ev.e.Status(ctx, reader, p); err != nil {
		t.Fatalf("reader Status: %v", err)
	}
	if _, err := ev.e.Status(ctx, reader, path(t, "team/a/none")); !errors.Is(err, rotation.ErrNoRotator) {
		t.Fatalf("reader Status of a path without rotator: %v", err)
	}
	if _, err := ev.e.Rotate(ctx, rotator, p, rotation.Request{}); err != nil {
		t.Fatalf("rotator Rotate: %v", err)
	}
	if meta, _ := ev.state(t, p); meta.Labels[secrets.LabelCurrent] != 2 {
		t.Fatalf("after the allowed rotation: %+v", meta.Labels)
	}
	refused := 0
	for _, e := range ev.rec.All() {
		if e.Action == audit.ActionSecretRotate && e.Reason == "forbidden" && e.Outcome == audit.OutcomeFailure {
			refused++
		}
	}
	if refused != 6 {
		t.Fatalf("%d refused rotations audited, want 6", refused)
	}
}

// TestRotateConcurrentEngines: two Engines (two instances) on one
// PostgreSQL database rotate the same secret at the same time: one
// rotation happens, the other is told it is busy.
func TestRotateConcurrentEngines(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, "postgres")
	p := path(t, "team/shared")
	r := randomRotator(t)
	inside, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	a := newEnvOn(t, st.DB, newClock(), []rotation.Schedule{{Path: p, Rotator: "random", Impl: r}}, func(o *rotation.Options) {
		o.Hooks = func(s rotation.Step, phase string) {
			if s == rotation.StepSet && phase == "before" {
				once.Do(func() {
					close(inside)
					<-release
				})
			}
		}
	})
	b := newEnvOn(t, st.DB, newClock(), []rotation.Schedule{{Path: p, Rotator: "random", Impl: r}})
	old := a.put(t, p, "shared-value-0003")
	errA := make(chan error, 1)
	go func() {
		_, err := a.e.Rotate(ctx, admin, p, rotation.Request{})
		errA <- err
	}()
	<-inside
	// b arrives while a is between steps: the open run is a's.
	_, errB := b.e.Rotate(ctx, admin, p, rotation.Request{})
	if _, err := b.e.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.e.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-errA; err != nil {
		t.Fatal(err)
	}
	if !errors.Is(errB, rotation.ErrBusy) || !errors.Is(errB, secrets.ErrConflict) {
		t.Fatalf("second engine: %v", errB)
	}
	a.checkRotated(t, p, r, old, 2)
	// Racing without a hook: still one new version per run, never two
	// current versions.
	done := make(chan error, 2)
	for _, ev := range []*env{a, b} {
		go func() {
			_, err := ev.e.Rotate(ctx, admin, p, rotation.Request{})
			done <- err
		}()
	}
	ok := 0
	for range 2 {
		if err := <-done; err == nil {
			ok++
		} else if !errors.Is(err, rotation.ErrBusy) {
			t.Fatal(err)
		}
	}
	meta, vs := a.state(t, p)
	if len(vs) != 2+ok || meta.Labels[secrets.LabelCurrent] != int64(2+ok) {
		t.Fatalf("%d successful rotations made %d versions: %+v", ok, len(vs), meta.Labels)
	}
	a.checkRotated(t, p, r, int64(1+ok), 0)
}

// TestRunDueSchedule: RunDue rotates a scheduled secret when due and
// inside its window, not before, not outside, and never a manual-only one.
func TestRunDueSchedule(t *testing.T) {
	ctx := context.Background()
	sched, manual := path(t, "team/scheduled"), path(t, "team/manual")
	w, err := rotation.ParseWindow("Sat 02:00-04:00")
	if err != nil {
		t.Fatal(err)
	}
	r := randomRotator(t)
	ev := newEnv(t, "sqlite", []rotation.Schedule{
		{Path: sched, Rotator: "random", Every: 7 * 24 * time.Hour, Window: w, Impl: r},
		{Path: manual, Rotator: "random", Impl: r},
	})
	// t0 is Saturday 03:00, inside the window; never rotated: due now.
	n, err := ev.e.RunDue(ctx)
	if err != nil || n != 1 {
		t.Fatalf("first RunDue: %d %v", n, err)
	}
	ev.checkRotated(t, sched, r, 0, 1)
	if _, _, err := ev.m.Versions(ctx, admin, manual); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("manual-only rotated: %v", err)
	}
	st, err := ev.e.Status(ctx, admin, sched)
	if want := t0.Add(7 * 24 * time.Hour); err != nil || !st.NextDue.Equal(want) || st.Window != "Sat 02:00-04:00" {
		t.Fatalf("status: %+v %v, want next due %s", st, err, want)
	}
	for _, at := range []time.Time{t0.Add(time.Hour), t0.Add(6 * 24 * time.Hour), t0.Add(7*24*time.Hour + 2*time.Hour)} {
		ev.clock.Set(at)
		if n, err := ev.e.RunDue(ctx); err != nil || n != 0 {
			t.Fatalf("RunDue at %s: %d %v", at, n, err)
		}
	}
	// The next Saturday's window: due (7 days after 03:00 is 03:00).
	ev.clock.Set(t0.Add(14*24*time.Hour - 30*time.Minute))
	if n, err := ev.e.RunDue(ctx); err != nil || n != 1 {
		t.Fatalf("RunDue in the window: %d %v", n, err)
	}
	ev.checkRotated(t, sched, r, 1, 2)
	if st, _ := ev.e.Status(ctx, admin, manual); !st.NextDue.IsZero() {
		t.Fatalf("manual-only has a due time: %+v", st)
	}
}

// TestRunLoop: Run resumes at start and stops with its context.
func TestRunLoop(t *testing.T) {
	p := path(t, "team/loop")
	r := randomRotator(t)
	ev := newEnv(t, "sqlite", []rotation.Schedule{{Path: p, Rotator: "random", Every: time.Hour, Impl: r}}, func(o *rotation.Options) { o.Tick = 10 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ev.e.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, err := ev.e.Status(context.Background(), admin, p); err == nil && !st.LastRotated.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the loop never rotated the due secret")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ev.checkRotated(t, p, r, 0, 1)
}

func TestNewRefuses(t *testing.T) {
	ev := newEnv(t, "sqlite", nil)
	r := randomRotator(t)
	p := path(t, "team/x")
	for name, o := range map[string]rotation.Options{
		"reject/no-manager": {Store: ev.db.SecretRotations(), Audit: ev.rec},
		"reject/no-store":   {Manager: ev.m, Audit: ev.rec},
		"reject/no-audit":   {Manager: ev.m, Store: ev.db.SecretRotations()},
		"reject/no-rotator": {Manager: ev.m, Store: ev.db.SecretRotations(), Audit: ev.rec, Schedules: []rotation.Schedule{{Path: p, Rotator: "random"}}},
		"reject/bad-path":   {Manager: ev.m, Store: ev.db.SecretRotations(), Audit: ev.rec, Schedules: []rotation.Schedule{{Path: "../x", Rotator: "random", Impl: r}}},
		"reject/negative":   {Manager: ev.m, Store: ev.db.SecretRotations(), Audit: ev.rec, Schedules: []rotation.Schedule{{Path: p, Rotator: "random", Impl: r, Every: -1}}},
		"reject/duplicate":  {Manager: ev.m, Store: ev.db.SecretRotations(), Audit: ev.rec, Schedules: []rotation.Schedule{{Path: p, Rotator: "random", Impl: r}, {Path: p, Rotator: "random", Impl: r}}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := rotation.New(o); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := ev.e.Rotate(context.Background(), admin, p, rotation.Request{}); !errors.Is(err, rotation.ErrNoRotator) || !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("rotate without schedule: %v", err)
	}
}

// TestRotateFinishFailure: a rotator whose Finish fails after the
// promotion keeps the new current (it passed its test) and gives up
// after MaxAttempts without a pending label; an emergency request
// upgrades the open run.
func TestRotateFinishFailure(t *testing.T) {
	ctx := context.Background()
	p := path(t, "team/finish-fails")
	f := &fakeRotator{inner: randomRotator(t), fail: map[string]error{"Finish": errors.New("cannot retire")}}
	ev := newEnv(t, "sqlite", []rotation.Schedule{{Path: p, Rotator: "random", Impl: f}}, func(o *rotation.Options) { o.MaxAttempts = 2 })
	old := ev.put(t, p, "finish-old-value-0004")
	var se *rotation.StepError
	if _, err := ev.e.Rotate(ctx, admin, p, rotation.Request{}); !errors.As(err, &se) || se.Code != "finish_failed" {
		t.Fatalf("first attempt: %v", err)
	}
	// The second attempt is an emergency: the open run is upgraded.
	if _, err := ev.e.Rotate(ctx, admin, p, rotation.Request{Now: true}); !errors.As(err, &se) {
		t.Fatalf("second attempt: %v", err)
	}
	if got := f.log(); got[len(got)-1] != "Finish(true)" {
		t.Fatalf("the open run was not upgraded to an emergency: %v", got)
	}
	st, err := ev.e.Status(ctx, admin, p)
	if err != nil || st.Attempts != 2 || st.Step != rotation.StepFinish || !st.LastRotated.IsZero() {
		t.Fatalf("status: %+v %v", st, err)
	}
	ev.checkRotated(t, p, f.inner, old, 2)
}
