package oauth

import (
	"context"
	"errors"
	"testing"
	"time"
)

type fakeDeny struct {
	got  []string
	fail string
}

func (f *fakeDeny) DenyJTI(ctx context.Context, jti string, until time.Time) error {
	return f.Add(ctx, jti, until)
}

func (f *fakeDeny) Add(_ context.Context, jti string, _ time.Time) error {
	if jti == f.fail {
		return errors.New("down")
	}
	f.got = append(f.got, jti)
	return nil
}

// TestRevoker: one revocation path writes every list, and a failing write
// neither stops the others nor goes unreported.
func TestRevoker(t *testing.T) {
	exp := time.Now().Add(time.Minute)
	toks := []IssuedAccess{{JTI: "a", ExpiresAt: exp}, {JTI: "b", ExpiresAt: exp}, {JTI: "c", ExpiresAt: exp}}
	t.Run("accept/both-lists", func(t *testing.T) {
		st, sh := &fakeDeny{}, &fakeDeny{}
		if err := (Revoker{Store: st, Shared: sh}).Revoke(context.Background(), toks); err != nil {
			t.Fatal(err)
		}
		if len(st.got) != 3 || len(sh.got) != 3 {
			t.Fatalf("store %v shared %v", st.got, sh.got)
		}
	})
	t.Run("reject/shared-failure-reported-and-rest-written", func(t *testing.T) {
		st, sh := &fakeDeny{}, &fakeDeny{fail: "b"}
		err := (Revoker{Store: st, Shared: sh}).Revoke(context.Background(), toks)
		if err == nil || len(st.got) != 3 || len(sh.got) != 2 {
			t.Fatalf("err %v store %v shared %v", err, st.got, sh.got)
		}
	})
	t.Run("reject/no-store", func(t *testing.T) {
		if err := (Revoker{}).Revoke(context.Background(), toks); err == nil {
			t.Fatal("revoked with no store")
		}
	})
}
