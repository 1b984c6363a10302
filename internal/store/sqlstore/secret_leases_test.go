package sqlstore_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secrets/pgdyn"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

func leaseRec(t *testing.T, id, user string, now time.Time) pgdyn.Record {
	return pgdyn.Record{Lease: pgdyn.Lease{ID: id, Path: secPath(t, "db/app"), Database: "main", Username: user, Owner: "client:a",
		CreatedAt: now, ExpiresAt: now.Add(time.Hour), MaxExpiresAt: now.Add(3 * time.Hour)},
		State: pgdyn.StateCreating, ClaimedUntil: now.Add(2 * time.Minute)}
}

// TestSecretLeaseStore walks a lease through its states on both drivers:
// every transition is conditional (a stale one is ErrConflict), and
// DueLeases returns exactly the expired active leases and the creating or
// revoking ones whose claim ran out.
func TestSecretLeaseStore(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			s := storetest.Open(t, driver).SecretLeases()
			now := time.Unix(1_800_000_000, 0).UTC()
			a := leaseRec(t, "a", "user_a", now)
			if err := s.InsertLease(ctx, a); err != nil {
				t.Fatal(err)
			}
			if err := s.InsertLease(ctx, leaseRec(t, "b", "user_a", now)); !errors.Is(err, secrets.ErrConflict) {
				t.Fatalf("duplicate username: %v", err)
			}
			if err := s.InsertLease(ctx, leaseRec(t, "a", "user_z", now)); !errors.Is(err, secrets.ErrConflict) {
				t.Fatalf("duplicate id: %v", err)
			}
			got, err := s.LeaseByID(ctx, "a")
			if err != nil || got.State != pgdyn.StateCreating || got.Username != "user_a" || got.Owner != "client:a" ||
				!got.ExpiresAt.Equal(a.ExpiresAt) || !got.MaxExpiresAt.Equal(a.MaxExpiresAt) || !got.ClaimedUntil.Equal(a.ClaimedUntil) || !got.RevokedAt.IsZero() {
				t.Fatalf("LeaseByID: %+v %v", got, err)
			}
			if _, err := s.LeaseByID(ctx, "zz"); !errors.Is(err, secrets.ErrNotFound) {
				t.Fatalf("missing: %v", err)
			}
			// Claimed by its creator: not due, not claimable, not renewable.
			if due, _ := s.DueLeases(ctx, now.Add(time.Minute), 10); len(due) != 0 {
				t.Fatalf("due while claimed: %+v", due)
			}
			if err := s.ClaimLease(ctx, "a", now, now.Add(time.Minute), false); !errors.Is(err, secrets.ErrConflict) {
				t.Fatalf("claim of a claimed row: %v", err)
			}
			if err := s.RenewLease(ctx, "a", now.Add(2*time.Hour), now); !errors.Is(err, secrets.ErrConflict) {
				t.Fatalf("renew of a creating row: %v", err)
			}
			if err := s.ActivateLease(ctx, "a"); err != nil {
				t.Fatal(err)
			}
			if err := s.ActivateLease(ctx, "a"); !errors.Is(err, secrets.ErrConflict) {
				t.Fatalf("second activate: %v", err)
			}
			if err := s.RenewLease(ctx, "a", now.Add(2*time.Hour), now); err != nil {
				t.Fatal(err)
			}
			if err := s.RenewLease(ctx, "a", now.Add(5*time.Hour), now.Add(2*time.Hour)); !errors.Is(err, secrets.ErrConflict) {
				t.Fatalf("renew of an expired row: %v", err)
			}
			if due, _ := s.DueLeases(ctx, now.Add(time.Hour), 10); len(due) != 0 {
				t.Fatalf("due before expiry: %+v", due)
			}
			due, err := s.DueLeases(ctx, now.Add(2*time.Hour), 10)
			if err != nil || len(due) != 1 || due[0].ID != "a" || due[0].State != pgdyn.StateActive {
				t.Fatalf("due at expiry: %+v %v", due, err)
			}
			// Other paths and states do not show in LeasesByPath.
			o := leaseRec(t, "o", "user_o", now)
			o.Path, o.ClaimedUntil = secPath(t, "db/apple"), now.Add(50*time.Hour)
			if err := s.InsertLease(ctx, o); err != nil {
				t.Fatal(err)
			}
			live, err := s.LeasesByPath(ctx, secPath(t, "db/app"))
			if err != nil || len(live) != 1 || live[0].ID != "a" {
				t.Fatalf("LeasesByPath: %+v %v", live, err)
			}
			// The reaper's claim needs the lease still due: renewed since
			// it was listed, it is not taken.
			if err := s.ClaimLease(ctx, "a", now.Add(time.Hour), now.Add(3*time.Hour), true); !errors.Is(err, secrets.ErrConflict) {
				t.Fatalf("due-only claim of a live lease: %v", err)
			}
			// Claim: one of many concurrent claimers wins.
			var wins atomic.Int32
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					if err := s.ClaimLease(ctx, "a", now.Add(2*time.Hour), now.Add(3*time.Hour), true); err == nil {
						wins.Add(1)
					} else if !errors.Is(err, secrets.ErrConflict) {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if wins.Load() != 1 {
				t.Fatalf("%d claims won", wins.Load())
			}
			// The claim runs out: due again (half revoked) and reclaimable.
			if due, _ := s.DueLeases(ctx, now.Add(150*time.Minute), 10); len(due) != 0 {
				t.Fatalf("due while the revocation claim holds: %+v", due)
			}
			due, _ = s.DueLeases(ctx, now.Add(3*time.Hour), 10)
			if len(due) != 1 || due[0].State != pgdyn.StateRevoking {
				t.Fatalf("due after the claim: %+v", due)
			}
			if err := s.ClaimLease(ctx, "a", now.Add(3*time.Hour), now.Add(4*time.Hour), true); err != nil {
				t.Fatal(err)
			}
			if err := s.FinishLease(ctx, "a", now.Add(3*time.Hour)); err != nil {
				t.Fatal(err)
			}
			if err := s.FinishLease(ctx, "a", now.Add(3*time.Hour)); !errors.Is(err, secrets.ErrConflict) {
				t.Fatalf("second finish: %v", err)
			}
			if err := s.ClaimLease(ctx, "a", now.Add(5*time.Hour), now.Add(6*time.Hour), false); !errors.Is(err, secrets.ErrConflict) {
				t.Fatalf("claim of a revoked row: %v", err)
			}
			got, _ = s.LeaseByID(ctx, "a")
			if got.State != pgdyn.StateRevoked || !got.RevokedAt.Equal(now.Add(3*time.Hour)) || !got.ClaimedUntil.IsZero() {
				t.Fatalf("revoked: %+v", got)
			}
			if live, _ := s.LeasesByPath(ctx, secPath(t, "db/app")); len(live) != 0 {
				t.Fatalf("revoked lease listed: %+v", live)
			}
			if due, _ := s.DueLeases(ctx, now.Add(100*time.Hour), 1); len(due) != 1 || due[0].ID != "o" {
				t.Fatalf("limit: %+v", due)
			}
		})
	}
}
