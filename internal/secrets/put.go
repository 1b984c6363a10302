package secrets

import (
	"context"
	"errors"
	"slices"
	"strconv"

	"github.com/rampart-auth/rampart/internal/audit"
)

// Put stores v as a new version of the secret at path (creating it),
// with o.Labels (default [current]; moving current moves previous to the
// old current), and destroys the oldest unlabelled versions beyond
// KeepVersions. Capability write.
func (m *Manager) Put(ctx context.Context, p Principal, path Path, v Value, o PutOptions) (VersionInfo, error) {
	a := m.begin(p, audit.ActionSecretWrite, string(path))
	info, err := m.put(ctx, a, p, path, v, o)
	return info, a.done(ctx, err)
}

func (m *Manager) put(ctx context.Context, a *op, p Principal, path Path, v Value, o PutOptions) (VersionInfo, error) {
	if err := m.allow(p, CapWrite, path); err != nil {
		return VersionInfo{}, err
	}
	if err := checkPath(path); err != nil {
		return VersionInfo{}, err
	}
	labels := o.Labels
	if len(labels) == 0 {
		labels = []string{LabelCurrent}
	}
	labels = slices.Compact(sortedLabels(labels))
	for _, l := range labels {
		if err := ValidLabel(l); err != nil {
			return VersionInfo{}, err
		}
	}
	if slices.Contains(labels, LabelCurrent) && slices.Contains(labels, LabelPrevious) {
		// Moving current sets previous to the old current; both on the
		// new version would say it is its own predecessor.
		return VersionInfo{}, invalid("a version cannot take both the current and the previous label")
	}
	if v.Len() > MaxValueSize {
		return VersionInfo{}, invalid("the value is larger than 64 KiB")
	}
	if err := checkMetadata(o.Metadata); err != nil {
		return VersionInfo{}, err
	}
	if o.CAS != nil && *o.CAS < 0 {
		return VersionInfo{}, invalid("cas is a version number, 0 for a new secret")
	}
	a.details["labels"] = joinLabels(labels)
	a.details["value_hmac"] = m.valueHMAC(v)
	if o.CAS != nil {
		a.details["cas"] = strconv.FormatInt(*o.CAS, 10)
	}
	for attempt := 0; ; attempt++ {
		info, err := m.putOnce(ctx, a, p, path, v, o, labels)
		// Without CAS the caller asked for "a new version, whatever the
		// newest is": a lost race is retried on the new state. With CAS
		// the conflict is the answer.
		if errors.Is(err, ErrConflict) && o.CAS == nil && attempt < maxPutRetries {
			continue
		}
		return info, err
	}
}

func (m *Manager) putOnce(ctx context.Context, a *op, p Principal, path Path, v Value, o PutOptions, labels []string) (VersionInfo, error) {
	now := m.o.Clock().UTC()
	w := VersionWrite{Path: path, Labels: labels, Keep: m.o.KeepVersions, Now: now}
	cur, err := m.o.Store.SecretByPath(ctx, path)
	switch {
	case errors.Is(err, ErrNotFound):
		if o.CAS != nil && *o.CAS != 0 {
			return VersionInfo{}, ErrConflict
		}
		id, err := newSecretID()
		if err != nil {
			return VersionInfo{}, err
		}
		w.Create = true
		w.Version = VersionRecord{SecretID: id, Version: 1}
		w.Metadata, w.SetMetadata = cloneMeta(o.Metadata), true
	case err != nil:
		return VersionInfo{}, err
	default:
		if o.CAS != nil && *o.CAS != cur.CurrentVersion {
			return VersionInfo{}, ErrConflict
		}
		w.Expect = cur.CurrentVersion
		w.Version = VersionRecord{SecretID: cur.ID, Version: cur.CurrentVersion + 1}
		if o.Metadata != nil {
			w.Metadata, w.SetMetadata = cloneMeta(o.Metadata), true
		}
	}
	w.Version.CreatedAt = now
	w.Version.CreatedBy = p.Actor()
	w.Version.DEKSealed, w.Version.Ciphertext, err = seal(m.o.Sealer, w.Version.SecretID, path, w.Version.Version, v)
	if err != nil {
		return VersionInfo{}, err
	}
	a.details["version"] = strconv.FormatInt(w.Version.Version, 10)
	destroyed, err := m.o.Store.InsertVersion(ctx, w)
	if err != nil {
		return VersionInfo{}, err
	}
	if len(destroyed) > 0 {
		a.details["destroyed"] = fmtVersions(destroyed)
	}
	return VersionInfo{Version: w.Version.Version, Labels: labels, CreatedAt: now, CreatedBy: w.Version.CreatedBy}, nil
}
