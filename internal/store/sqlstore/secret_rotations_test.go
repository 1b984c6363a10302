package sqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secrets/rotation"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

func TestSecretRotationStore(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			s := storetest.Open(t, driver).SecretRotations()
			now := time.Unix(1_800_000_000, 0).UTC()
			p := secPath(t, "team/db")
			r := rotation.Run{ID: "r1", Path: p, Rotator: "random", Step: rotation.StepCreate, Reason: "manual", RequestedBy: "cli", StartedAt: now, UpdatedAt: now}
			got, created, err := s.CreateRun(ctx, r, "a", now.Add(time.Minute))
			if err != nil || !created || got.ID != "r1" {
				t.Fatalf("create: %+v %v %v", got, created, err)
			}
			// One open run per path: a second create returns the first.
			r2 := r
			r2.ID = "r2"
			got, created, err = s.CreateRun(ctx, r2, "b", now.Add(time.Minute))
			if err != nil || created || got.ID != "r1" || got.Step != rotation.StepCreate || got.RequestedBy != "cli" || !got.StartedAt.Equal(now) {
				t.Fatalf("second create: %+v %v %v", got, created, err)
			}
			// The claim: b cannot take a's live claim, can after it expired.
			if ok, err := s.ClaimRun(ctx, "r1", "b", now, now.Add(time.Minute)); err != nil || ok {
				t.Fatalf("claim of a live claim: %v %v", ok, err)
			}
			if ok, err := s.ClaimRun(ctx, "r1", "a", now, now.Add(time.Minute)); err != nil || !ok {
				t.Fatalf("re-claim by the holder: %v %v", ok, err)
			}
			r.Step, r.PendingVersion, r.Attempts, r.LastError, r.Emergency = rotation.StepTest, 7, 2, "test_failed", true
			if ok, err := s.SaveRun(ctx, r, "b", now.Add(time.Minute)); err != nil || ok {
				t.Fatalf("save by a non-holder: %v %v", ok, err)
			}
			if ok, err := s.SaveRun(ctx, r, "a", now.Add(time.Minute)); err != nil || !ok {
				t.Fatalf("save by the holder: %v %v", ok, err)
			}
			later := now.Add(2 * time.Minute)
			if ok, err := s.ClaimRun(ctx, "r1", "b", later, later.Add(time.Minute)); err != nil || !ok {
				t.Fatalf("claim of an expired claim: %v %v", ok, err)
			}
			if ok, err := s.SaveRun(ctx, r, "a", later); err != nil || ok {
				t.Fatalf("save after losing the claim: %v %v", ok, err)
			}
			open, err := s.OpenRun(ctx, p)
			if err != nil || open.Step != rotation.StepTest || open.PendingVersion != 7 || open.Attempts != 2 || open.LastError != "test_failed" || !open.Emergency {
				t.Fatalf("open run: %+v %v", open, err)
			}
			runs, err := s.OpenRuns(ctx)
			if err != nil || len(runs) != 1 {
				t.Fatalf("open runs: %+v %v", runs, err)
			}
			r.Step, r.Outcome, r.FinishedAt = rotation.StepDone, rotation.OutcomeDone, later
			if ok, err := s.SaveRun(ctx, r, "b", later); err != nil || !ok {
				t.Fatalf("close: %v %v", ok, err)
			}
			if _, err := s.OpenRun(ctx, p); !errors.Is(err, secrets.ErrNotFound) {
				t.Fatalf("open run after close: %v", err)
			}
			if ok, err := s.ClaimRun(ctx, "r1", "b", later, later); err != nil || ok {
				t.Fatalf("claim of a closed run: %v %v", ok, err)
			}
			// A new run may open once the last one closed.
			r2.StartedAt = later.Add(time.Second)
			if _, created, err := s.CreateRun(ctx, r2, "b", later.Add(time.Hour)); err != nil || !created {
				t.Fatalf("create after close: %v %v", created, err)
			}
			last, err := s.LatestRun(ctx, p, "")
			if err != nil || last.ID != "r2" {
				t.Fatalf("latest: %+v %v", last, err)
			}
			done, err := s.LatestRun(ctx, p, rotation.OutcomeDone)
			if err != nil || done.ID != "r1" || !done.FinishedAt.Equal(later) {
				t.Fatalf("latest done: %+v %v", done, err)
			}
			if _, err := s.LatestRun(ctx, p, rotation.OutcomeFailed); !errors.Is(err, secrets.ErrNotFound) {
				t.Fatalf("latest failed: %v", err)
			}
		})
	}
}
