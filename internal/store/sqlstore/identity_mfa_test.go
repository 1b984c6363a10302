package sqlstore_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// TestSessionFromBeforeAMRReadsAsPassword: a session row written before
// migration 0009 (amr ”) was a password sign-in, the only method there
// was, and reads back as ["pwd"], never as a second factor.
func TestSessionFromBeforeAMRReadsAsPassword(t *testing.T) {
	forDrivers(t, func(t *testing.T, s *storetest.Store) {
		ctx := context.Background()
		now := time.Now().UnixNano()
		if _, err := s.DB.SQL().ExecContext(ctx, s.DB.Q(`INSERT INTO user_sessions (id_hash, user_id, auth_time, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`),
			[]byte("0123456789abcdef0123456789abcdef"), "u1", now, now, now+int64(time.Hour)); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetSession(ctx, []byte("0123456789abcdef0123456789abcdef"))
		if err != nil || !reflect.DeepEqual(got.AMR, []string{"pwd"}) {
			t.Fatalf("amr %v %v", got, err)
		}
	})
}
