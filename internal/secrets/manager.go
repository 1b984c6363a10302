package secrets

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
)

// Sealer wraps data keys: *kms.Keyring satisfies it.
type Sealer interface {
	Seal(ad, plaintext []byte) ([]byte, error)
	Open(ad, ciphertext []byte) ([]byte, error)
}

// Auditor records audit events (*audit.Log satisfies it).
type Auditor interface {
	Record(ctx context.Context, e audit.Event) error
}

// Options configure a Manager.
type Options struct {
	Store  Store  // db.Secrets()
	Sealer Sealer // the keyring
	// AuditKey is kr.DataKey(kms.DataKeySecretAudit): the HMAC key of
	// values in audit events.
	AuditKey []byte
	Audit    Auditor
	// Policies: nil lets nobody but KindAdmin and KindSystem in.
	Policies *Policies
	// KeepVersions: default DefaultKeepVersions.
	KeepVersions int
	Clock        func() time.Time // default time.Now
	Logger       *slog.Logger     // default slog.Default()
}

// DefaultKeepVersions is the default of Options.KeepVersions (Vault KV
// v2's max_versions default).
const DefaultKeepVersions = 10

// maxKeepVersions bounds Options.KeepVersions (config.MaxKeepVersions).
const maxKeepVersions = 100

// minAuditKey is the shortest HMAC key accepted (RFC 2104 §3: at least
// the hash's output length).
const minAuditKey = 32

// Manager stores, versions and hands out secrets under policies.
type Manager struct {
	o Options
}

// New checks o and returns a Manager.
func New(o Options) (*Manager, error) {
	switch {
	case o.Store == nil:
		return nil, errors.New("secrets: no store")
	case o.Sealer == nil:
		return nil, errors.New("secrets: no sealer")
	case o.Audit == nil:
		return nil, errors.New("secrets: no auditor")
	case len(o.AuditKey) < minAuditKey:
		return nil, fmt.Errorf("secrets: the audit key must be at least %d bytes", minAuditKey)
	}
	if o.KeepVersions == 0 {
		o.KeepVersions = DefaultKeepVersions
	}
	if o.KeepVersions < 1 || o.KeepVersions > maxKeepVersions {
		return nil, fmt.Errorf("secrets: keep versions %d is out of range 1..%d", o.KeepVersions, maxKeepVersions)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.AuditKey = slices.Clone(o.AuditKey)
	return &Manager{o: o}, nil
}

// Selector picks a version: Version when non-zero, else the version
// Label points at; the zero Selector is LabelCurrent.
type Selector struct {
	Version int64
	Label   string
}

// PutOptions tune a Put.
type PutOptions struct {
	// CAS (check-and-set): nil no check; 0 the secret must not exist; n
	// its newest version must be n (Meta.CurrentVersion).
	CAS *int64
	// Labels the new version takes: default [current]; e.g. [pending]
	// for a rotation's new version.
	Labels []string
	// Metadata replaces the secret's metadata; nil keeps it.
	Metadata map[string]string
}

// Secret is one version of a secret with its value.
type Secret struct {
	Path      Path
	Version   int64
	Labels    []string
	Value     Value
	Metadata  map[string]string
	CreatedAt time.Time
}

// VersionInfo describes a version without its value.
type VersionInfo struct {
	Version   int64
	Labels    []string
	CreatedAt time.Time
	CreatedBy string
	DeletedAt time.Time
	Destroyed bool
}

// Meta describes a secret without values. CurrentVersion is the newest
// version number (what a Put's CAS compares with); Labels[LabelCurrent]
// is the version a read returns.
type Meta struct {
	Path           Path
	CurrentVersion int64
	Labels         map[string]int64
	Metadata       map[string]string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Metadata bounds: the metadata is operator-facing annotation (owner,
// rotation facts), not a second value store.
const (
	maxMetadataKeys  = 32
	maxMetadataKey   = 64
	maxMetadataValue = 2048 // an RSA-3072 public JWK (about 600 bytes) fits
	// MaxValueSize bounds a value (64 KiB, AWS Secrets Manager's limit).
	MaxValueSize = 64 << 10
	// maxPutRetries bounds the retries of a Put without CAS that lost a
	// race to a concurrent Put.
	maxPutRetries = 5
)

// op is one audited operation in progress.
type op struct {
	m       *Manager
	p       Principal
	action  string
	target  string
	details map[string]string
}

// begin starts the audited operation action on target, the path (also
// Details["path"]; List replaces it by the prefix).
func (m *Manager) begin(p Principal, action string, target string) *op {
	return &op{m: m, p: p, action: action, target: target, details: map[string]string{"path": target}}
}

// done records the event of the operation: success when err is nil,
// else a failure with the reason of err. It returns err, or the audit
// failure of a success (the caller fails closed: an unrecorded read is
// not handed out).
func (o *op) done(ctx context.Context, err error) error {
	e := audit.Event{Actor: o.p.Actor(), Action: o.action, Target: o.target, Details: o.details, Outcome: audit.OutcomeSuccess}
	if err != nil {
		e.Outcome = audit.OutcomeFailure
		e.Reason = reason(err)
	}
	if rerr := o.m.o.Audit.Record(ctx, e); rerr != nil {
		o.m.o.Logger.Error("secrets: audit failed", "action", o.action, "target", o.target, "error", rerr.Error())
		if err == nil {
			return fmt.Errorf("secrets: audit %s: %w", o.action, rerr)
		}
	}
	if errors.Is(err, ErrTampered) {
		o.m.o.Logger.Error("secrets: stored secret failed its integrity check", "action", o.action, "target", o.target, "details", o.details)
	}
	return err
}

// reason is the audit reason code of err.
func reason(err error) string {
	for _, r := range []struct {
		err  error
		code string
	}{
		{ErrForbidden, "forbidden"}, {ErrInvalid, "invalid"}, {ErrNotFound, "not_found"},
		{ErrConflict, "conflict"}, {ErrDeleted, "deleted"}, {ErrDestroyed, "destroyed"},
		{ErrTampered, "tampered"},
	} {
		if errors.Is(err, r.err) {
			return r.code
		}
	}
	return "error"
}

// allow checks the policy: ErrForbidden before anything touches the store.
func (m *Manager) allow(p Principal, c Capability, path Path) error {
	if !m.o.Policies.Allowed(p, c, path) {
		return ErrForbidden
	}
	return nil
}

// valueHMAC is the hex HMAC-SHA-256 of v under the audit key: events can
// be correlated by value without holding it.
func (m *Manager) valueHMAC(v Value) string {
	h := hmac.New(sha256.New, m.o.AuditKey)
	h.Write(v.raw())
	return hex.EncodeToString(h.Sum(nil))
}

// newSecretID returns a random 128-bit hex id.
func newSecretID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("secrets: id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// checkPath refuses a Path not made by ParsePath.
func checkPath(path Path) error {
	_, err := ParsePath(string(path))
	return err
}

func checkMetadata(md map[string]string) error {
	if len(md) > maxMetadataKeys {
		return invalid(fmt.Sprintf("metadata holds at most %d keys", maxMetadataKeys))
	}
	for k, v := range md {
		if k == "" || len(k) > maxMetadataKey || len(v) > maxMetadataValue {
			return invalid(fmt.Sprintf("a metadata key is 1 to %d bytes and a value at most %d", maxMetadataKey, maxMetadataValue))
		}
	}
	return nil
}

func sortedLabels(l []string) []string {
	l = slices.Clone(l)
	slices.Sort(l)
	return l
}

func joinLabels(l []string) string {
	return strings.Join(sortedLabels(l), ",")
}

func fmtVersions(vs []int64) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = strconv.FormatInt(v, 10)
	}
	return strings.Join(out, ",")
}

func cloneMeta(md map[string]string) map[string]string {
	if md == nil {
		return map[string]string{}
	}
	return maps.Clone(md)
}

func metaOf(r SecretRecord) Meta {
	return Meta{Path: r.Path, CurrentVersion: r.CurrentVersion, Labels: maps.Clone(r.Labels), Metadata: cloneMeta(r.Metadata), CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func infoOf(v VersionRecord) VersionInfo {
	return VersionInfo{Version: v.Version, Labels: sortedLabels(v.Labels), CreatedAt: v.CreatedAt, CreatedBy: v.CreatedBy, DeletedAt: v.DeletedAt, Destroyed: !v.DestroyedAt.IsZero()}
}
