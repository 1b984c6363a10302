package rotation_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/secrets/rotation"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
)

// The kill -9 harness. The parent seeds a SQLite file in t.TempDir(),
// re-execs this test binary as TestCrashChild with ROTATION_CRASH_AT =
// step:phase; the child's Hooks SIGKILL the process at that point of a
// rotation. The parent then builds a fresh Engine on the file (as a
// restarted instance would), calls Resume and checks the invariants.
//
// The harness is generic over the rotator: crashRotators maps a name
// (ROTATION_CRASH_ROTATOR) to a factory, called in both processes; a
// rotator with an external target (PostgreSQL) registers its own
// factory that reaches the same target from both.
var crashRotators = map[string]func(t testing.TB) rotation.Rotator{
	"random": randomRotator,
}

// crashPoints are every step × before/ran/after, and finish's label move.
func crashPoints() []string {
	var out []string
	for _, s := range []rotation.Step{rotation.StepCreate, rotation.StepSet, rotation.StepTest, rotation.StepFinish} {
		for _, ph := range []string{"before", "ran", "after"} {
			out = append(out, string(s)+":"+ph)
		}
	}
	return append(out, "finish:moved")
}

const (
	crashEnvAt      = "ROTATION_CRASH_AT"
	crashEnvDir     = "ROTATION_CRASH_DIR"
	crashEnvRotator = "ROTATION_CRASH_ROTATOR"
	crashPath       = "team/crash/secret"
)

func crashDB(t testing.TB, dir string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), sqlstore.SQLite, filepath.Join(dir, "rampart.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// TestCrashChild is the child process of TestRotationSurvivesKill9: it
// does nothing unless ROTATION_CRASH_AT is set.
func TestCrashChild(t *testing.T) {
	at, dir := os.Getenv(crashEnvAt), os.Getenv(crashEnvDir)
	if at == "" || dir == "" {
		t.Skip("the child of TestRotationSurvivesKill9")
	}
	step, phase, _ := strings.Cut(at, ":")
	factory := crashRotators[os.Getenv(crashEnvRotator)]
	if factory == nil {
		t.Fatalf("no crash rotator %q", os.Getenv(crashEnvRotator))
	}
	db := crashDB(t, dir)
	r := factory(t)
	p := path(t, crashPath)
	ev := newEnvOn(t, db, newClock(), []rotation.Schedule{{Path: p, Rotator: os.Getenv(crashEnvRotator), Impl: r}}, func(o *rotation.Options) {
		o.Hooks = func(s rotation.Step, ph string) {
			if string(s) == step && ph == phase {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				time.Sleep(time.Minute) // the signal is on its way
			}
		}
	})
	_, err := ev.e.Rotate(context.Background(), admin, p, rotation.Request{Reason: "crash-test"})
	t.Fatalf("not killed at %s (rotate: %v)", at, err)
}

// TestRotationSurvivesKill9 kills a rotation at every step × before/after
// (and inside finish) and resumes it with a fresh Engine.
func TestRotationSurvivesKill9(t *testing.T) {
	crashMatrix(t, "random")
}

// crashMatrix runs the kill -9 matrix for the named crash rotator.
func crashMatrix(t *testing.T, rotator string) {
	if testing.Short() {
		t.Skip("re-execs the test binary per crash point")
	}
	for _, at := range crashPoints() {
		t.Run(strings.ReplaceAll(at, ":", "/"), func(t *testing.T) {
			dir := t.TempDir()
			db := crashDB(t, dir)
			if _, err := db.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			p := path(t, crashPath)
			r := crashRotators[rotator](t)
			seed := newEnvOn(t, db, newClock(), nil)
			first, err := r.NewValue(context.Background(), secretsZero(p))
			if err != nil {
				t.Fatal(err)
			}
			old := seed.put(t, p, string(first.Bytes()))

			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1", "-test.v") // #nosec G204 -- the test binary itself
			cmd.Env = append(os.Environ(), crashEnvAt+"="+at, crashEnvDir+"="+dir, crashEnvRotator+"="+rotator)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("child: %v\n%s", err, out)
			}
			ws, ok := ee.Sys().(syscall.WaitStatus)
			if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("child was not killed at %s: %v\n%s", at, err, out)
			}

			// A restarted instance: a fresh Engine, its clock past the
			// dead instance's claim.
			clock := newClock()
			clock.Add(rotation.DefaultClaimTTL + time.Second)
			ev := newEnvOn(t, db, clock, []rotation.Schedule{{Path: p, Rotator: rotator, Impl: r}})
			if err := ev.e.Resume(context.Background()); err != nil {
				t.Fatalf("resume: %v", err)
			}
			st, err := ev.e.Status(context.Background(), admin, p)
			if err != nil || st.Step != rotation.StepDone || st.Reason != "crash-test" || st.Attempts != 0 {
				t.Fatalf("after resume: %+v %v", st, err)
			}
			if _, err := db.SecretRotations().OpenRun(context.Background(), p); err == nil {
				t.Fatal("a run is still open")
			}
			ev.checkRotated(t, p, r, old, 2)
			if got := fmt.Sprint(ev.rec.rotateSteps()); strings.Contains(got, "!") {
				t.Fatalf("resume audited a failure: %s", got)
			}
		})
	}
}
