package admin_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// TestSecretRotationOverlap: with --overlap the old and the new secret
// both authenticate until the window ends (or the old one is retired);
// then only the new one does. A second rotation drops the first old
// secret: never more than two secrets.
func TestSecretRotationOverlap(t *testing.T) {
	for _, d := range storetest.Drivers(t) {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d)
			clock := testkit.NewClock(time.Now())
			f.reg.WithClock(clock.Now)
			_, s1, err := f.svc.CreateClient(ctx, "cli:ops", ccSpec("reporting"))
			if err != nil {
				t.Fatal(err)
			}
			auth := func(secret string) bool {
				_, err := f.reg.Authenticate(ctx, "reporting", secret, true)
				return err == nil
			}
			s2, err := f.svc.RotateClientSecret(ctx, "cli:ops", "reporting", 24*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if !auth(s1) || !auth(s2) {
				t.Fatal("inside the overlap both secrets must work")
			}
			clock.Add(24*time.Hour + time.Second)
			if auth(s1) || !auth(s2) {
				t.Fatal("after the overlap only the new secret may work")
			}
			// Back to the service's clock (time.Now) for the rest.
			clock.Set(time.Now())
			// Rotate twice with an overlap: s2 is the previous, s1 is gone.
			s3, err := f.svc.RotateClientSecret(ctx, "cli:ops", "reporting", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			s4, err := f.svc.RotateClientSecret(ctx, "cli:ops", "reporting", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if auth(s1) || auth(s2) || !auth(s3) || !auth(s4) {
				t.Fatal("after two rotations exactly the last two secrets may work")
			}
			had, err := f.svc.RetireClientSecret(ctx, "cli:ops", "reporting")
			if err != nil || !had {
				t.Fatalf("retire: %v %v", had, err)
			}
			if auth(s3) || !auth(s4) {
				t.Fatal("a retired secret still works")
			}
			if had, err := f.svc.RetireClientSecret(ctx, "cli:ops", "reporting"); err != nil || had {
				t.Fatalf("second retire: %v %v", had, err)
			}
			// A rotation without overlap ends the old secret at once, even
			// when a previous one was still open.
			if _, err := f.svc.RotateClientSecret(ctx, "cli:ops", "reporting", time.Hour); err != nil {
				t.Fatal(err)
			}
			s6, err := f.svc.RotateClientSecret(ctx, "cli:ops", "reporting", 0)
			if err != nil {
				t.Fatal(err)
			}
			if auth(s4) || !auth(s6) {
				t.Fatal("an overlap-free rotation must leave only the new secret")
			}
			var recs []audit.Record
			if recs, err = f.db.QueryAudit(ctx, audit.Query{Action: audit.ActionClientRotateSecret, Limit: 10}); err != nil {
				t.Fatal(err)
			}
			if len(recs) != 5 || recs[0].Details["overlap"] != "24h0m0s" || recs[0].Details["previous_valid_until"] == "" || recs[4].Details["previous_valid_until"] != "" {
				t.Fatalf("rotate events %+v", recs)
			}
			if recs, _ = f.db.QueryAudit(ctx, audit.Query{Action: audit.ActionClientRetireSecret, Limit: 10}); len(recs) != 2 {
				t.Fatalf("retire events %d", len(recs))
			}
		})
	}
}

func TestSecretOverlapBounds(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "sqlite")
	if _, _, err := f.svc.CreateClient(ctx, "cli:ops", ccSpec("reporting")); err != nil {
		t.Fatal(err)
	}
	var inv *admin.InvalidError
	for _, o := range []time.Duration{-time.Second, admin.MaxSecretOverlap + time.Second} {
		if _, err := f.svc.RotateClientSecret(ctx, "cli:ops", "reporting", o); !errors.As(err, &inv) {
			t.Fatalf("overlap %s: %v", o, err)
		}
	}
	var cf *admin.ConflictError
	if _, err := f.svc.RetireClientSecret(ctx, "cli:ops", "from-file"); !errors.As(err, &cf) {
		t.Fatalf("retire a configured client: %v", err)
	}
	var nf *admin.NotFoundError
	if _, err := f.svc.RetireClientSecret(ctx, "cli:ops", "nobody"); !errors.As(err, &nf) {
		t.Fatalf("retire an unknown client: %v", err)
	}
}
