package secrets_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

func TestPutGetVersionsAndStagingLabels(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			e := newEnv(t, driver)
			ctx := context.Background()
			if v := e.put(t, "team/a/db", "one", secrets.PutOptions{Metadata: map[string]string{"owner": "team-a"}}); v != 1 {
				t.Fatalf("first version %d", v)
			}
			s := e.mustGet(t, "team/a/db", secrets.Selector{})
			if string(s.Value.Bytes()) != "one" || s.Version != 1 || !slices.Equal(s.Labels, []string{"current"}) || s.Metadata["owner"] != "team-a" {
				t.Fatalf("got %+v %q", s, s.Value.Bytes())
			}
			e.put(t, "team/a/db", "two", secrets.PutOptions{})
			s = e.mustGet(t, "team/a/db", secrets.Selector{})
			if string(s.Value.Bytes()) != "two" || s.Version != 2 || s.Metadata["owner"] != "team-a" {
				t.Fatalf("after second put: %+v", s)
			}
			prev := e.mustGet(t, "team/a/db", secrets.Selector{Label: secrets.LabelPrevious})
			if string(prev.Value.Bytes()) != "one" || prev.Version != 1 {
				t.Fatalf("previous: %+v", prev)
			}
			// A rotation's pending version leaves current and previous alone.
			e.put(t, "team/a/db", "three", secrets.PutOptions{Labels: []string{secrets.LabelPending}})
			if s := e.mustGet(t, "team/a/db", secrets.Selector{}); s.Version != 2 {
				t.Fatalf("pending moved current: %+v", s)
			}
			// Promoting pending moves previous to the old current.
			if err := e.m.MoveLabel(ctx, admin, path(t, "team/a/db"), secrets.LabelCurrent, 3, i64(2)); err != nil {
				t.Fatal(err)
			}
			meta, vs, err := e.m.Versions(ctx, admin, path(t, "team/a/db"))
			if err != nil {
				t.Fatal(err)
			}
			if meta.CurrentVersion != 3 || meta.Labels["current"] != 3 || meta.Labels["previous"] != 2 || meta.Labels["pending"] != 3 || len(vs) != 3 {
				t.Fatalf("meta %+v versions %+v", meta, vs)
			}
			if !slices.Equal(vs[2].Labels, []string{"current", "pending"}) || vs[0].CreatedBy != "cli" || len(vs[0].Labels) != 0 {
				t.Fatalf("versions %+v", vs)
			}
			if err := e.m.RemoveLabel(ctx, admin, path(t, "team/a/db"), secrets.LabelPending, i64(3)); err != nil {
				t.Fatal(err)
			}
			if err := e.m.RemoveLabel(ctx, admin, path(t, "team/a/db"), secrets.LabelCurrent, nil); !errors.Is(err, secrets.ErrInvalid) {
				t.Fatalf("remove current: %v", err)
			}
			if got := e.mustGet(t, "team/a/db", secrets.Selector{Version: 1}); string(got.Value.Bytes()) != "one" {
				t.Fatal("version 1")
			}
			if _, err := e.get(t, "team/a/db", secrets.Selector{Version: 9}); !errors.Is(err, secrets.ErrNotFound) {
				t.Fatalf("missing version: %v", err)
			}
			if _, err := e.get(t, "team/a/db", secrets.Selector{Label: "pending"}); !errors.Is(err, secrets.ErrNotFound) {
				t.Fatalf("removed label: %v", err)
			}
			if _, err := e.get(t, "team/a/nope", secrets.Selector{}); !errors.Is(err, secrets.ErrNotFound) {
				t.Fatalf("missing secret: %v", err)
			}
			if _, err := e.get(t, "team/a/db", secrets.Selector{Version: 1, Label: "current"}); !errors.Is(err, secrets.ErrInvalid) {
				t.Fatalf("both selectors: %v", err)
			}
		})
	}
}

func TestMoveLabelCAS(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			e := newEnv(t, driver)
			ctx := context.Background()
			p := path(t, "app/key")
			e.put(t, "app/key", "a", secrets.PutOptions{})
			e.put(t, "app/key", "b", secrets.PutOptions{Labels: []string{"blue"}})
			if err := e.m.MoveLabel(ctx, admin, p, "green", 1, i64(0)); err != nil {
				t.Fatal(err)
			}
			if err := e.m.MoveLabel(ctx, admin, p, "green", 2, i64(0)); !errors.Is(err, secrets.ErrConflict) {
				t.Fatalf("expect absent, label exists: %v", err)
			}
			if err := e.m.MoveLabel(ctx, admin, p, "green", 2, i64(2)); !errors.Is(err, secrets.ErrConflict) {
				t.Fatalf("expect wrong version: %v", err)
			}
			if err := e.m.MoveLabel(ctx, admin, p, "green", 2, i64(1)); err != nil {
				t.Fatal(err)
			}
			if err := e.m.MoveLabel(ctx, admin, p, "green", 7, nil); !errors.Is(err, secrets.ErrNotFound) {
				t.Fatalf("missing version: %v", err)
			}
			if err := e.m.MoveLabel(ctx, admin, p, "Bad Label", 1, nil); !errors.Is(err, secrets.ErrInvalid) {
				t.Fatalf("bad label: %v", err)
			}
			if err := e.m.RemoveLabel(ctx, admin, p, "nope", nil); !errors.Is(err, secrets.ErrNotFound) {
				t.Fatalf("remove missing: %v", err)
			}
			if err := e.m.RemoveLabel(ctx, admin, p, "green", i64(1)); !errors.Is(err, secrets.ErrConflict) {
				t.Fatalf("remove with wrong expect: %v", err)
			}
		})
	}
}

func TestPutCAS(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			e := newEnv(t, driver)
			ctx := context.Background()
			p := path(t, "svc/token")
			if _, err := e.m.Put(ctx, admin, p, val("x"), secrets.PutOptions{CAS: i64(1)}); !errors.Is(err, secrets.ErrConflict) {
				t.Fatalf("cas 1 on a missing secret: %v", err)
			}
			e.put(t, "svc/token", "x", secrets.PutOptions{CAS: i64(0)})
			if _, err := e.m.Put(ctx, admin, p, val("y"), secrets.PutOptions{CAS: i64(0)}); !errors.Is(err, secrets.ErrConflict) {
				t.Fatalf("cas 0 on an existing secret: %v", err)
			}
			if _, err := e.m.Put(ctx, admin, p, val("y"), secrets.PutOptions{CAS: i64(2)}); !errors.Is(err, secrets.ErrConflict) {
				t.Fatalf("cas 2 at version 1: %v", err)
			}
			if v := e.put(t, "svc/token", "y", secrets.PutOptions{CAS: i64(1)}); v != 2 {
				t.Fatalf("version %d", v)
			}
			ev := e.rec.last(t)
			if ev.Action != audit.ActionSecretWrite || ev.Outcome != audit.OutcomeSuccess || ev.Details["cas"] != "1" || ev.Details["version"] != "2" {
				t.Fatalf("event %+v", ev)
			}
		})
	}
}

// TestConcurrentPutsOneCASWins: many writers with the same expectation
// at once; the conditional UPDATE lets exactly one commit.
func TestConcurrentPutsOneCASWins(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			e := newEnv(t, driver)
			ctx := context.Background()
			for _, cas := range []int64{0, 1} {
				p := path(t, "race/"+strconv.FormatInt(cas, 10))
				if cas == 1 {
					e.put(t, p.String(), "seed", secrets.PutOptions{})
				}
				const n = 8
				var (
					wg        sync.WaitGroup
					mu        sync.Mutex
					wins      []int
					conflicts int
				)
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, err := e.m.Put(ctx, admin, p, val("w"+strconv.Itoa(i)), secrets.PutOptions{CAS: i64(cas)})
						mu.Lock()
						defer mu.Unlock()
						switch {
						case err == nil:
							wins = append(wins, i)
						case errors.Is(err, secrets.ErrConflict):
							conflicts++
						default:
							t.Errorf("writer %d: %v", i, err)
						}
					}()
				}
				wg.Wait()
				if len(wins) != 1 || conflicts != n-1 {
					t.Fatalf("cas %d: %d wins %v, %d conflicts; want exactly one winner", cas, len(wins), wins, conflicts)
				}
				s := e.mustGet(t, p.String(), secrets.Selector{})
				if s.Version != cas+1 || string(s.Value.Bytes()) != "w"+strconv.Itoa(wins[0]) {
					t.Fatalf("stored %d %q, winner %d", s.Version, s.Value.Bytes(), wins[0])
				}
			}
			// Without CAS every writer gets its own version.
			p := path(t, "race/nocas")
			var wg sync.WaitGroup
			for i := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := e.m.Put(ctx, admin, p, val("v"+strconv.Itoa(i)), secrets.PutOptions{}); err != nil {
						t.Errorf("put without cas: %v", err)
					}
				}()
			}
			wg.Wait()
			meta, vs, err := e.m.Versions(ctx, admin, p)
			if err != nil || meta.CurrentVersion != 4 || len(vs) != 4 || meta.Labels["current"] != 4 {
				t.Fatalf("meta %+v, %d versions, %v", meta, len(vs), err)
			}
		})
	}
}

func TestKeepVersionsDestroysOldestUnlabelled(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			e := newEnv(t, driver, func(o *secrets.Options) { o.KeepVersions = 3 })
			ctx := context.Background()
			p := path(t, "k/v")
			e.put(t, "k/v", "1", secrets.PutOptions{Labels: []string{"current", "pinned"}})
			for i := 2; i <= 6; i++ {
				e.put(t, "k/v", strconv.Itoa(i), secrets.PutOptions{})
			}
			_, vs, err := e.m.Versions(ctx, admin, p)
			if err != nil {
				t.Fatal(err)
			}
			destroyed := map[int64]bool{}
			for _, v := range vs {
				destroyed[v.Version] = v.Destroyed
			}
			// Keep 3: versions 4..6 stay; 1 carries "pinned"; 2 and 3 go.
			want := map[int64]bool{1: false, 2: true, 3: true, 4: false, 5: false, 6: false}
			for v, d := range want {
				if destroyed[v] != d {
					t.Errorf("version %d destroyed=%v, want %v", v, destroyed[v], d)
				}
			}
			if _, err := e.get(t, "k/v", secrets.Selector{Version: 2}); !errors.Is(err, secrets.ErrDestroyed) {
				t.Fatalf("pruned version: %v", err)
			}
			if s := e.mustGet(t, "k/v", secrets.Selector{Label: "pinned"}); string(s.Value.Bytes()) != "1" {
				t.Fatal("pinned version lost")
			}
			var n int
			if err := e.st.SQL().QueryRowContext(ctx, e.st.Q("SELECT COUNT(*) FROM secret_versions WHERE destroyed_at <> 0 AND (LENGTH(ciphertext) > 0 OR LENGTH(dek_sealed) > 0)")).Scan(&n); err != nil || n != 0 {
				t.Fatalf("destroyed rows keep bytes: %d %v", n, err)
			}
			found := false
			for _, ev := range e.rec.All() {
				if ev.Details["destroyed"] != "" {
					found = true
				}
			}
			if !found {
				t.Error("no audit event names the pruned versions")
			}
		})
	}
}

func TestDeleteUndeleteDestroy(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			e := newEnv(t, driver)
			ctx := context.Background()
			p := path(t, "d/x")
			e.put(t, "d/x", "one", secrets.PutOptions{})
			e.put(t, "d/x", "two", secrets.PutOptions{})
			// Deleting the current version keeps the label: reads say deleted.
			if err := e.m.Delete(ctx, admin, p, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := e.get(t, "d/x", secrets.Selector{}); !errors.Is(err, secrets.ErrDeleted) {
				t.Fatalf("read of deleted current: %v", err)
			}
			var ct []byte
			if err := e.st.SQL().QueryRowContext(ctx, e.st.Q("SELECT ciphertext FROM secret_versions WHERE version = 2")).Scan(&ct); err != nil || len(ct) == 0 {
				t.Fatalf("soft delete erased the ciphertext: %v", err)
			}
			// A label cannot be moved onto a deleted version.
			if err := e.m.MoveLabel(ctx, admin, p, "other", 2, nil); !errors.Is(err, secrets.ErrInvalid) {
				t.Fatalf("label to deleted: %v", err)
			}
			if err := e.m.Undelete(ctx, admin, p, []int64{2}); err != nil {
				t.Fatal(err)
			}
			if s := e.mustGet(t, "d/x", secrets.Selector{}); string(s.Value.Bytes()) != "two" {
				t.Fatal("undelete")
			}
			if err := e.m.Destroy(ctx, admin, p, []int64{1}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.get(t, "d/x", secrets.Selector{Version: 1}); !errors.Is(err, secrets.ErrDestroyed) {
				t.Fatalf("destroyed: %v", err)
			}
			if err := e.m.MoveLabel(ctx, admin, p, "old", 1, nil); !errors.Is(err, secrets.ErrInvalid) {
				t.Fatalf("label to destroyed: %v", err)
			}
			if err := e.m.Undelete(ctx, admin, p, []int64{1}); !errors.Is(err, secrets.ErrDestroyed) {
				t.Fatalf("undelete destroyed: %v", err)
			}
			if err := e.m.Delete(ctx, admin, p, []int64{5}); !errors.Is(err, secrets.ErrNotFound) {
				t.Fatalf("delete missing version: %v", err)
			}
			if err := e.m.Delete(ctx, admin, p, []int64{2, 2}); !errors.Is(err, secrets.ErrInvalid) {
				t.Fatalf("duplicate versions: %v", err)
			}
			// Destroying the secret removes everything; a new one at the
			// same path gets a new id, so no old row opens under it.
			oldID := e.secretID(t, "d/x")
			if err := e.m.Destroy(ctx, admin, p, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := e.get(t, "d/x", secrets.Selector{}); !errors.Is(err, secrets.ErrNotFound) {
				t.Fatalf("after destroy: %v", err)
			}
			var n int
			if err := e.st.SQL().QueryRowContext(ctx, e.st.Q("SELECT COUNT(*) FROM secret_versions WHERE secret_id = ?"), oldID).Scan(&n); err != nil || n != 0 {
				t.Fatalf("versions left: %d %v", n, err)
			}
			if v := e.put(t, "d/x", "new", secrets.PutOptions{CAS: i64(0)}); v != 1 {
				t.Fatalf("re-created at version %d", v)
			}
			if e.secretID(t, "d/x") == oldID {
				t.Fatal("re-created secret reuses the old id")
			}
		})
	}
}

func TestListOnlyWhatThePrincipalMayList(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ps, err := secrets.CompilePolicies([]secrets.PolicyRule{{Name: "a", Paths: []string{"team/a"}, Capabilities: []string{"list", "read"}, Clients: []string{"app"}}})
			if err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, driver, func(o *secrets.Options) { o.Policies = ps })
			ctx := context.Background()
			for _, p := range []string{"team/a", "team/a/db", "team/ab", "team/ab/x", "team/b/y", "other_x/z"} {
				e.put(t, p, "v", secrets.PutOptions{})
			}
			all, _ := secrets.ParsePrefix("*")
			team, _ := secrets.ParsePrefix("team")
			teamA, _ := secrets.ParsePrefix("team/a")
			paths := func(ms []secrets.Meta) []string {
				var out []string
				for _, m := range ms {
					out = append(out, m.Path.String())
				}
				return out
			}
			app := secrets.Principal{Kind: secrets.KindClient, ID: "app"}
			for _, c := range []struct {
				p    secrets.Principal
				pre  secrets.Prefix
				want []string
			}{
				{admin, all, []string{"other_x/z", "team/a", "team/a/db", "team/ab", "team/ab/x", "team/b/y"}},
				{admin, teamA, []string{"team/a", "team/a/db"}},
				{admin, team, []string{"team/a", "team/a/db", "team/ab", "team/ab/x", "team/b/y"}},
				{app, all, []string{"team/a", "team/a/db"}},
				{app, team, []string{"team/a", "team/a/db"}},
				{secrets.Principal{Kind: secrets.KindClient, ID: "other"}, all, nil},
			} {
				ms, err := e.m.List(ctx, c.p, c.pre)
				if err != nil {
					t.Fatal(err)
				}
				if got := paths(ms); !slices.Equal(got, c.want) {
					t.Errorf("%s lists %s: %v, want %v", c.p.Actor(), c.pre, got, c.want)
				}
			}
			if _, err := e.m.List(ctx, admin, secrets.Prefix{}); !errors.Is(err, secrets.ErrInvalid) {
				t.Fatalf("zero prefix: %v", err)
			}
		})
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	e := newEnv(t, "sqlite")
	for name, mod := range map[string]func(*secrets.Options){
		"no store":   func(o *secrets.Options) { o.Store = nil },
		"no sealer":  func(o *secrets.Options) { o.Sealer = nil },
		"no audit":   func(o *secrets.Options) { o.Audit = nil },
		"short key":  func(o *secrets.Options) { o.AuditKey = make([]byte, 8) },
		"keep < 0":   func(o *secrets.Options) { o.KeepVersions = -1 },
		"keep > 100": func(o *secrets.Options) { o.KeepVersions = 101 },
	} {
		o := e.opts
		mod(&o)
		if _, err := secrets.New(o); err == nil {
			t.Errorf("%s: New accepted", name)
		}
	}
}

func TestPutRefusesBadInput(t *testing.T) {
	e := newEnv(t, "sqlite")
	ctx := context.Background()
	p := path(t, "in/x")
	big := make([]byte, secrets.MaxValueSize+1)
	for name, c := range map[string]struct {
		path secrets.Path
		v    secrets.Value
		o    secrets.PutOptions
	}{
		"unparsed path":    {secrets.Path("../etc"), val("x"), secrets.PutOptions{}},
		"bad label":        {p, val("x"), secrets.PutOptions{Labels: []string{"'; DROP TABLE secrets;--"}}},
		"too large":        {p, secrets.NewValue(big), secrets.PutOptions{}},
		"negative cas":     {p, val("x"), secrets.PutOptions{CAS: i64(-1)}},
		"empty md key":     {p, val("x"), secrets.PutOptions{Metadata: map[string]string{"": "x"}}},
		"current+previous": {p, val("x"), secrets.PutOptions{Labels: []string{"current", "previous"}}},
	} {
		if _, err := e.m.Put(ctx, admin, c.path, c.v, c.o); !errors.Is(err, secrets.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

// failingAuditor refuses every event.
type failingAuditor struct{}

func (failingAuditor) Record(context.Context, audit.Event) error {
	return errors.New("audit store down")
}

// TestUnauditedReadIsNotHandedOut: a read whose event cannot be recorded
// fails closed.
func TestUnauditedReadIsNotHandedOut(t *testing.T) {
	e := newEnv(t, "sqlite")
	e.put(t, "a/b", "value", secrets.PutOptions{})
	o := e.opts
	o.Audit = failingAuditor{}
	m, err := secrets.New(o)
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Get(context.Background(), admin, path(t, "a/b"), secrets.Selector{})
	if err == nil || s.Value.Len() != 0 {
		t.Fatalf("unaudited read: %v, %d bytes", err, s.Value.Len())
	}
}

// TestPutBoundsValueAndMetadata: a value up to 64 KiB and metadata of up
// to 32 keys of 64 bytes with values of 2 KiB are accepted; one byte or
// key more is invalid and writes nothing.
func TestPutBoundsValueAndMetadata(t *testing.T) {
	e := newEnv(t, sqlstore.SQLite)
	ctx := context.Background()
	p := path(t, "team/a/bounds")
	many := func(n int) map[string]string {
		m := map[string]string{}
		for i := range n {
			m[fmt.Sprintf("k%02d", i)] = "v"
		}
		return m
	}
	for name, c := range map[string]struct {
		value string
		md    map[string]string
		ok    bool
	}{
		"accept/largest-value":    {strings.Repeat("v", secrets.MaxValueSize), nil, true},
		"accept/largest-metadata": {"v", map[string]string{strings.Repeat("k", 64): strings.Repeat("m", 2048)}, true},
		"accept/32-keys":          {"v", many(32), true},
		"reject/value-too-large":  {strings.Repeat("v", secrets.MaxValueSize+1), nil, false},
		"reject/metadata-value":   {"v", map[string]string{"k": strings.Repeat("m", 2049)}, false},
		"reject/metadata-key":     {"v", map[string]string{strings.Repeat("k", 65): "m"}, false},
		"reject/33-keys":          {"v", many(33), false},
		"reject/empty-key":        {"v", map[string]string{"": "m"}, false},
	} {
		t.Run(name, func(t *testing.T) {
			before, _, _ := e.m.Versions(ctx, admin, p)
			_, err := e.m.Put(ctx, admin, p, val(c.value), secrets.PutOptions{Metadata: c.md})
			if c.ok != (err == nil) || !c.ok && !errors.Is(err, secrets.ErrInvalid) {
				t.Fatalf("Put: %v", err)
			}
			after, _, _ := e.m.Versions(ctx, admin, p)
			if !c.ok && after.CurrentVersion != before.CurrentVersion {
				t.Fatal("a refused write made a version")
			}
		})
	}
}
