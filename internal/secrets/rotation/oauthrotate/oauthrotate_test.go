package oauthrotate_test

import (
	"context"
	"crypto/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secrets/rotation"
	"github.com/rampart-auth/rampart/internal/secrets/rotation/oauthrotate"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

var (
	secretKey = []byte("0123456789abcdef0123456789abcdef")
	cli       = secrets.Principal{Kind: secrets.KindAdmin}
)

type fixture struct {
	db   *storetest.Store
	al   *audit.Log
	reg  *oauth.Registry
	svc  *admin.Service
	m    *secrets.Manager
	e    *rotation.Engine
	path secrets.Path
	s1   string
}

// newFixture: a stored confidential client "reporting" whose secret s1
// is also the current value of the secret team/oauth/reporting, and an
// Engine rotating it with the oauth_client rotator (overlap 24h).
func newFixture(t *testing.T, driver string) *fixture {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, driver)
	al, err := audit.New(audit.Options{Store: db.AuditStore, HMACKey: secretKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = al.Close(context.Background()) })
	h, err := identity.NewHasher(identity.Params{}, 1, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	reg := oauth.NewRegistry(nil, db.OAuthStore, secretKey, h)
	svc := admin.New(admin.Options{Clients: db.OAuthStore, Configured: reg, SecretKey: secretKey, Audit: al})
	_, s1, err := svc.CreateClient(ctx, "cli:ops", admin.ClientSpec{ID: "reporting", GrantTypes: []string{"client_credentials"}, Scopes: []string{"reports:read"}})
	if err != nil {
		t.Fatal(err)
	}
	mk, err := kms.NewMasterKey(testkit.MasterKey())
	if err != nil {
		t.Fatal(err)
	}
	kr, err := kms.Open(ctx, db.KMS(), mk)
	if err != nil {
		t.Fatal(err)
	}
	m, err := secrets.New(secrets.Options{Store: db.Secrets(), Sealer: kr, AuditKey: kr.DataKey(kms.DataKeySecretAudit), Audit: al})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := secrets.ParsePath("team/oauth/reporting")
	if _, err := m.Put(ctx, cli, p, secrets.NewValue([]byte(s1)), secrets.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := oauthrotate.New(oauthrotate.Options{ClientID: "reporting", Overlap: 24 * time.Hour, Secrets: svc, Auth: reg})
	if err != nil {
		t.Fatal(err)
	}
	e, err := rotation.New(rotation.Options{Manager: m, Store: db.SecretRotations(), Audit: al,
		Schedules: []rotation.Schedule{{Path: p, Rotator: "oauth_client", Impl: r}}})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, al: al, reg: reg, svc: svc, m: m, e: e, path: p, s1: s1}
}

func (f *fixture) auth(secret string) bool {
	_, err := f.reg.Authenticate(context.Background(), "reporting", secret, true)
	return err == nil
}

func (f *fixture) current(t *testing.T) string {
	t.Helper()
	s, err := f.m.Get(context.Background(), cli, f.path, secrets.Selector{})
	if err != nil {
		t.Fatal(err)
	}
	return string(s.Value.Bytes())
}

// TestOAuthClientRotation: a scheduled-style rotation makes the stored
// secret's new value the client's secret, the old one still working for
// the overlap; an emergency rotation stops the old one at once. The
// client events are recorded by the admin use case; no secret is in any
// audit event.
func TestOAuthClientRotation(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, driver)
			if _, err := f.e.Rotate(ctx, cli, f.path, rotation.Request{}); err != nil {
				t.Fatal(err)
			}
			s2 := f.current(t)
			if s2 == f.s1 || !f.auth(s2) || !f.auth(f.s1) {
				t.Fatal("after a rotation with overlap the new and the old secret must work")
			}
			if _, err := f.e.Rotate(ctx, cli, f.path, rotation.Request{Now: true, Reason: "suspicion"}); err != nil {
				t.Fatal(err)
			}
			s3 := f.current(t)
			if !f.auth(s3) || f.auth(s2) || f.auth(f.s1) {
				t.Fatal("after an emergency rotation only the new secret may work")
			}
			recs, err := audit.Tail(ctx, f.db.AuditStore, 500)
			if err != nil {
				t.Fatal(err)
			}
			var client []string
			for _, r := range recs {
				if strings.HasPrefix(r.Action, "client.") {
					client = append(client, r.Action+" "+r.Actor)
				}
				all := r.Actor + r.Target + r.Reason
				for k, v := range r.Details {
					all += k + v
				}
				for _, s := range []string{f.s1, s2, s3} {
					if strings.Contains(all, s) {
						t.Fatalf("a client secret is in the audit event %s", r.Action)
					}
				}
			}
			want := []string{"client.create cli:ops", "client.rotate_secret system:rotation", "client.rotate_secret system:rotation", "client.retire_secret system:rotation"}
			if !slices.Equal(client, want) {
				t.Fatalf("client events: %v", client)
			}
		})
	}
}

// TestOAuthClientSetIsIdempotent: Set run again after a crash (same
// pending secret) changes nothing, so the old secret keeps its overlap.
func TestOAuthClientSetIsIdempotent(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "sqlite")
	r, _ := oauthrotate.New(oauthrotate.Options{ClientID: "reporting", Overlap: time.Hour, Secrets: f.svc, Auth: f.reg})
	v, err := r.NewValue(ctx, secrets.Secret{})
	if err != nil {
		t.Fatal(err)
	}
	pending := secrets.Secret{Value: v}
	for range 2 {
		if err := r.Set(ctx, secrets.Secret{}, pending, false); err != nil {
			t.Fatal(err)
		}
	}
	if !f.auth(string(v.Bytes())) || !f.auth(f.s1) {
		t.Fatal("a repeated Set pushed the old secret out of its overlap")
	}
	if err := r.Test(ctx, pending); err != nil {
		t.Fatal(err)
	}
	// Test fails for a secret the client does not have, without quoting it.
	other, _ := r.NewValue(ctx, secrets.Secret{})
	if err := r.Test(ctx, secrets.Secret{Value: other}); err == nil || strings.Contains(err.Error(), string(other.Bytes())) {
		t.Fatalf("Test of a wrong secret: %v", err)
	}
	// An emergency Finish retires the previous secret.
	if err := r.Finish(ctx, secrets.Secret{}, pending, true); err != nil {
		t.Fatal(err)
	}
	if f.auth(f.s1) || !f.auth(string(v.Bytes())) {
		t.Fatal("an emergency Finish left the previous secret working")
	}
	if _, err := oauthrotate.New(oauthrotate.Options{Secrets: f.svc, Auth: f.reg}); err == nil {
		t.Fatal("a rotator without client id accepted")
	}
}
