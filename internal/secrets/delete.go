package secrets

import (
	"context"
	"slices"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
)

// Delete soft-deletes versions of the secret at path (empty: the version
// labelled current). The ciphertext stays (Undelete restores it); reads
// of a deleted version are ErrDeleted. Labels stay where they are: a
// deleted current version makes reads of the secret say deleted until it
// is undeleted or current moves (Vault KV v2's behaviour for a deleted
// latest version), rather than silently falling back to an older value.
// Capability delete.
func (m *Manager) Delete(ctx context.Context, p Principal, path Path, versions []int64) error {
	a := m.begin(p, audit.ActionSecretDelete, string(path))
	err := m.setDeleted(ctx, a, p, CapDelete, path, versions, true)
	return a.done(ctx, err)
}

// Undelete restores soft-deleted versions (empty: the version labelled
// current). Capability delete.
func (m *Manager) Undelete(ctx context.Context, p Principal, path Path, versions []int64) error {
	a := m.begin(p, audit.ActionSecretUndelete, string(path))
	err := m.setDeleted(ctx, a, p, CapDelete, path, versions, false)
	return a.done(ctx, err)
}

func (m *Manager) setDeleted(ctx context.Context, a *op, p Principal, c Capability, path Path, versions []int64, del bool) error {
	if err := m.allow(p, c, path); err != nil {
		return err
	}
	if err := checkPath(path); err != nil {
		return err
	}
	if err := checkVersions(versions); err != nil {
		return err
	}
	rec, err := m.o.Store.SecretByPath(ctx, path)
	if err != nil {
		return err
	}
	if len(versions) == 0 {
		cur, ok := rec.Labels[LabelCurrent]
		if !ok {
			return ErrNotFound
		}
		versions = []int64{cur}
	}
	a.details["version"] = fmtVersions(versions)
	at := m.o.Clock().UTC()
	if !del {
		return m.o.Store.SetDeleted(ctx, rec.ID, versions, time.Time{})
	}
	return m.o.Store.SetDeleted(ctx, rec.ID, versions, at)
}

// Destroy erases versions of the secret at path for good (ciphertext and
// data key; the version rows stay, marked destroyed). Empty versions
// destroys the secret: every version, its labels and metadata, so the
// path can be made again (with a new secret id: no old row opens under
// it). Capability destroy.
func (m *Manager) Destroy(ctx context.Context, p Principal, path Path, versions []int64) error {
	a := m.begin(p, audit.ActionSecretDestroy, string(path))
	err := m.destroy(ctx, a, p, path, versions)
	return a.done(ctx, err)
}

func (m *Manager) destroy(ctx context.Context, a *op, p Principal, path Path, versions []int64) error {
	if err := m.allow(p, CapDestroy, path); err != nil {
		return err
	}
	if err := checkPath(path); err != nil {
		return err
	}
	if err := checkVersions(versions); err != nil {
		return err
	}
	rec, err := m.o.Store.SecretByPath(ctx, path)
	if err != nil {
		return err
	}
	if len(versions) == 0 {
		a.details["version"] = "all"
		return m.o.Store.DeleteSecret(ctx, rec.ID)
	}
	a.details["version"] = fmtVersions(versions)
	return m.o.Store.DestroyVersions(ctx, rec.ID, versions, m.o.Clock().UTC())
}

// maxVersionsPerCall bounds the versions of one Delete, Undelete or Destroy.
const maxVersionsPerCall = 100

func checkVersions(vs []int64) error {
	if len(vs) > maxVersionsPerCall {
		return invalid("at most 100 versions per call")
	}
	for _, v := range vs {
		if v < 1 {
			return invalid("a version number is positive")
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(vs)))) != len(vs) {
		return invalid("a version is listed twice")
	}
	return nil
}
