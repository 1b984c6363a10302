package sqlstore_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

func secPath(t *testing.T, s string) secrets.Path {
	t.Helper()
	p, err := secrets.ParsePath(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// secWrite is a version write of path (the store does not look inside
// the sealed bytes).
func secWrite(t *testing.T, id, p string, create bool, expect int64, labels ...string) secrets.VersionWrite {
	now := time.Unix(1_800_000_000, 0).UTC()
	return secrets.VersionWrite{Path: secPath(t, p), Create: create, Expect: expect, Labels: labels, Keep: 10, Now: now,
		Metadata: map[string]string{"o": "x"}, SetMetadata: create,
		Version: secrets.VersionRecord{SecretID: id, Version: expect + 1, DEKSealed: []byte("dek"), Ciphertext: []byte("ct"), CreatedAt: now, CreatedBy: "cli"}}
}

func TestSecretStore(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			s := storetest.Open(t, driver).Secrets()
			if _, err := s.InsertVersion(ctx, secWrite(t, "id1", "team/a", true, 0, "current")); err != nil {
				t.Fatal(err)
			}
			// A second create at the same path, or a bump from a stale
			// version, is a conflict.
			if _, err := s.InsertVersion(ctx, secWrite(t, "id2", "team/a", true, 0, "current")); !errors.Is(err, secrets.ErrConflict) {
				t.Fatalf("second create: %v", err)
			}
			if _, err := s.InsertVersion(ctx, secWrite(t, "id1", "team/a", false, 1, "current")); err != nil {
				t.Fatal(err)
			}
			if _, err := s.InsertVersion(ctx, secWrite(t, "id1", "team/a", false, 1, "current")); !errors.Is(err, secrets.ErrConflict) {
				t.Fatalf("stale bump: %v", err)
			}
			for _, p := range []string{"team/a/x", "team/ab", "team/a_b", "teamxa"} {
				if _, err := s.InsertVersion(ctx, secWrite(t, "id-"+p, p, true, 0, "current")); err != nil {
					t.Fatal(err)
				}
			}
			r, v, err := s.ReadVersion(ctx, secPath(t, "team/a"), secrets.Selector{Label: "current"})
			if err != nil || r.ID != "id1" || v.Version != 2 || r.CurrentVersion != 2 || !slices.Equal(v.Labels, []string{"current"}) || r.Metadata["o"] != "x" {
				t.Fatalf("read current: %+v %+v %v", r, v, err)
			}
			_, v, err = s.ReadVersion(ctx, secPath(t, "team/a"), secrets.Selector{Version: 1})
			if err != nil || v.Version != 1 || !slices.Equal(v.Labels, []string{"previous"}) || string(v.Ciphertext) != "ct" {
				t.Fatalf("read version 1: %+v %v", v, err)
			}
			if _, _, err := s.ReadVersion(ctx, secPath(t, "team/zz"), secrets.Selector{Label: "current"}); !errors.Is(err, secrets.ErrNotFound) {
				t.Fatalf("missing: %v", err)
			}
			pre, _ := secrets.ParsePrefix("team/a")
			list, err := s.ListSecrets(ctx, pre)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range list {
				got = append(got, r.Path.String())
			}
			if !slices.Equal(got, []string{"team/a", "team/a/x"}) || list[0].Labels["previous"] != 1 {
				t.Fatalf("list team/a: %v %+v", got, list)
			}
			// The DEKs a master-key rotation re-wraps.
			snap, err := storetest.Open(t, driver).RotationSnapshot(ctx)
			if err != nil || len(snap.SecretDEKs) != 0 {
				t.Fatalf("empty store snapshot: %v %v", snap.SecretDEKs, err)
			}
		})
	}
}

func TestSecretStoreSnapshotAndDestroy(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, driver)
			s := st.Secrets()
			if _, err := s.InsertVersion(ctx, secWrite(t, "abc", "x/y", true, 0, "current")); err != nil {
				t.Fatal(err)
			}
			if _, err := s.InsertVersion(ctx, secWrite(t, "abc", "x/y", false, 1, "current")); err != nil {
				t.Fatal(err)
			}
			if err := s.DestroyVersions(ctx, "abc", []int64{1}, time.Now()); err != nil {
				t.Fatal(err)
			}
			snap, err := st.RotationSnapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(snap.SecretDEKs) != 1 || snap.SecretDEKs[0].ID != kms.SecretDEKID("abc", 2) || string(snap.SecretDEKs[0].Value) != "dek" {
				t.Fatalf("snapshot %+v", snap.SecretDEKs)
			}
			if err := s.DestroyVersions(ctx, "abc", []int64{9}, time.Now()); !errors.Is(err, secrets.ErrNotFound) {
				t.Fatalf("destroy missing: %v", err)
			}
			if err := s.DeleteSecret(ctx, "abc"); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteSecret(ctx, "abc"); !errors.Is(err, secrets.ErrNotFound) {
				t.Fatalf("delete twice: %v", err)
			}
		})
	}
}

// TestSecretStoreConcurrentLabelCAS: writers moving one label with the
// same expectation at once; exactly one wins.
func TestSecretStoreConcurrentLabelCAS(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			s := storetest.Open(t, driver).Secrets()
			if _, err := s.InsertVersion(ctx, secWrite(t, "abc", "x/y", true, 0, "current")); err != nil {
				t.Fatal(err)
			}
			for i := int64(1); i < 6; i++ {
				if _, err := s.InsertVersion(ctx, secWrite(t, "abc", "x/y", false, i, "v")); err != nil {
					t.Fatal(err)
				}
			}
			var (
				wg         sync.WaitGroup
				mu         sync.Mutex
				wins, lost int
			)
			one := int64(1)
			for to := int64(2); to <= 6; to++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := s.MoveLabel(ctx, "abc", secrets.LabelCurrent, to, &one, time.Now())
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						wins++
					case errors.Is(err, secrets.ErrConflict):
						lost++
					default:
						t.Errorf("move: %v", err)
					}
				}()
			}
			wg.Wait()
			if wins != 1 || lost != 4 {
				t.Fatalf("%d wins, %d conflicts", wins, lost)
			}
			r, err := s.SecretByPath(ctx, secPath(t, "x/y"))
			if err != nil || r.Labels["previous"] != 1 || r.Labels["current"] < 2 {
				t.Fatalf("labels %v %v", r.Labels, err)
			}
		})
	}
}
