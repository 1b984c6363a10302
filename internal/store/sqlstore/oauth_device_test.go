package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/store"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

func newDevice(name, userCode string) *oauth.DeviceCode {
	return &oauth.DeviceCode{Hash: h(name), UserCode: userCode, ClientID: "tv", Scopes: []string{"openid", "notes:read"},
		Audience: []string{"https://api"}, CreatedAt: t0, ExpiresAt: t0.Add(oauth.DeviceCodeTTL), Status: oauth.DevicePending,
		Interval: oauth.DeviceInterval}
}

// TestDeviceRoundTripAndUserCodeUnique: a request reads back as saved; a
// live user code cannot be given out twice, an expired one can.
func TestDeviceRoundTripAndUserCodeUnique(t *testing.T) {
	forDrivers(t, func(t *testing.T, s *storetest.Store) {
		ctx := context.Background()
		d := newDevice("dev-1", "BCDFGHJK")
		if err := s.SaveDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
		got, err := s.DeviceByUserCode(ctx, "BCDFGHJK", t0)
		if err != nil || !reflect.DeepEqual(got, d) {
			t.Fatalf("got %+v %v, want %+v", got, err, d)
		}
		if err := s.SaveDevice(ctx, newDevice("dev-2", "BCDFGHJK")); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("live duplicate user code: %v", err)
		}
		if _, err := s.DeviceByUserCode(ctx, "BCDFGHJK", d.ExpiresAt); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired request found: %v", err)
		}
		later := newDevice("dev-3", "BCDFGHJK")
		later.CreatedAt, later.ExpiresAt = d.ExpiresAt, d.ExpiresAt.Add(oauth.DeviceCodeTTL)
		if err := s.SaveDevice(ctx, later); err != nil {
			t.Fatalf("user code of an expired request not reusable: %v", err)
		}
		if _, _, err := s.PollDevice(ctx, d.Hash, "tv", later.CreatedAt, oauth.DeviceSlowDown); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the replaced request survives: %v", err)
		}
	})
}

// TestDeviceDecideOnce: a request is decided once; a decided or expired
// one cannot be decided (again), and it is no longer found by its code.
func TestDeviceDecideOnce(t *testing.T) {
	forDrivers(t, func(t *testing.T, s *storetest.Store) {
		ctx := context.Background()
		d := newDevice("dev-1", "BCDFGHJK")
		if err := s.SaveDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
		dec := oauth.DeviceDecision{UserCode: d.UserCode, Status: oauth.DeviceApproved, UserID: "u1", AuthTime: t0, AMR: []string{"pwd"}, At: t0.Add(time.Minute)}
		var wins, lost atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dd := dec
				if i%2 == 1 {
					dd.Status, dd.UserID = oauth.DeviceDenied, "attacker"
				}
				switch err := s.DecideDevice(ctx, dd); {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, store.ErrNotFound):
					lost.Add(1)
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 || lost.Load() != 7 {
			t.Fatalf("%d decisions won, %d lost; want 1 and 7", wins.Load(), lost.Load())
		}
		if _, err := s.DeviceByUserCode(ctx, d.UserCode, t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("decided request still pending: %v", err)
		}
		e := newDevice("dev-2", "CDFGHJKL")
		if err := s.SaveDevice(ctx, e); err != nil {
			t.Fatal(err)
		}
		late := dec
		late.UserCode, late.At = e.UserCode, e.ExpiresAt
		if err := s.DecideDevice(ctx, late); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired request decided: %v", err)
		}
	})
}

// TestDevicePollSlowDown: a poll sooner than the interval raises it by the
// step, persisted; another client's poll changes nothing.
func TestDevicePollSlowDown(t *testing.T) {
	forDrivers(t, func(t *testing.T, s *storetest.Store) {
		ctx := context.Background()
		d := newDevice("dev-1", "BCDFGHJK")
		if err := s.SaveDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
		step := oauth.DeviceSlowDown
		poll := func(client string, at time.Duration) (*oauth.DeviceCode, bool) {
			t.Helper()
			got, slow, err := s.PollDevice(ctx, d.Hash, client, t0.Add(at), step)
			if err != nil {
				t.Fatal(err)
			}
			return got, slow
		}
		if _, slow := poll("tv", 5*time.Second); slow {
			t.Fatal("first poll is slow_down")
		}
		if got, slow := poll("tv", 7*time.Second); !slow || got.Interval != 10*time.Second {
			t.Fatalf("poll after 2 s: slow %v interval %s", slow, got.Interval)
		}
		if got, slow := poll("tv", 15*time.Second); !slow || got.Interval != 15*time.Second {
			t.Fatalf("poll after 8 s of a 10 s interval: slow %v interval %s", slow, got.Interval)
		}
		if got, slow := poll("other", 16*time.Second); slow || got.Interval != 15*time.Second || !got.LastPollAt.Equal(t0.Add(15*time.Second)) {
			t.Fatalf("another client's poll changed the request: %+v", got)
		}
		if got, slow := poll("tv", 30*time.Second); slow || got.Interval != 15*time.Second {
			t.Fatalf("poll on time: slow %v interval %s", slow, got.Interval)
		}
		if _, _, err := s.PollDevice(ctx, h("nope"), "tv", t0, step); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown: %v", err)
		}
	})
}

// TestDeviceRedeemRace: only an approved request is redeemed, exactly
// once among concurrent redeemers, creating its family.
func TestDeviceRedeemRace(t *testing.T) {
	forDrivers(t, func(t *testing.T, s *storetest.Store) {
		ctx := context.Background()
		d := newDevice("dev-1", "BCDFGHJK")
		if err := s.SaveDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
		fam := func(i int) *oauth.Family {
			return &oauth.Family{ID: fmt.Sprintf("fam-%d", i), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		}
		if _, err := s.RedeemDevice(ctx, d.Hash, fam(99), t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("pending request redeemed: %v", err)
		}
		if err := s.DecideDevice(ctx, oauth.DeviceDecision{UserCode: d.UserCode, Status: oauth.DeviceApproved, UserID: "u1", AuthTime: t0, At: t0}); err != nil {
			t.Fatal(err)
		}
		var wins, used atomic.Int32
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := s.RedeemDevice(ctx, d.Hash, fam(i), t0.Add(time.Second))
				switch {
				case err == nil:
					wins.Add(1)
					if got.UserID != "u1" || got.Status != oauth.DeviceApproved {
						t.Errorf("redeemed %+v", got)
					}
				case errors.Is(err, store.ErrUsed):
					used.Add(1)
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 || used.Load() != 11 {
			t.Fatalf("%d winners, %d replays; want 1 and 11", wins.Load(), used.Load())
		}
		if _, err := s.RevokeCodeFamily(ctx, d.Hash, t0); err != nil {
			t.Fatalf("the family is not reachable from the device code: %v", err)
		}
		n, err := s.PurgeExpired(ctx, d.ExpiresAt.Add(time.Second))
		if err != nil || n == 0 {
			t.Fatalf("purge: %d %v", n, err)
		}
		if _, _, err := s.PollDevice(ctx, d.Hash, "tv", t0, time.Second); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired request not purged: %v", err)
		}
	})
}
