package secrets

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/rampart-auth/rampart/internal/audit"
)

// Get returns the version sel selects of the secret at path (zero
// Selector: the version labelled current). Capability read. A deleted
// version is ErrDeleted, a destroyed one ErrDestroyed; a row that does
// not open under its own identity is ErrTampered (never another value).
func (m *Manager) Get(ctx context.Context, p Principal, path Path, sel Selector) (Secret, error) {
	a := m.begin(p, audit.ActionSecretRead, string(path))
	s, err := m.get(ctx, a, p, path, sel)
	if err := a.done(ctx, err); err != nil {
		return Secret{}, err
	}
	return s, nil
}

func (m *Manager) get(ctx context.Context, a *op, p Principal, path Path, sel Selector) (Secret, error) {
	if err := m.allow(p, CapRead, path); err != nil {
		return Secret{}, err
	}
	if err := checkPath(path); err != nil {
		return Secret{}, err
	}
	switch {
	case sel.Version < 0:
		return Secret{}, invalid("a version number is positive")
	case sel.Version > 0 && sel.Label != "":
		return Secret{}, invalid("select a version or a label, not both")
	case sel.Version == 0 && sel.Label == "":
		sel.Label = LabelCurrent
	}
	if sel.Label != "" {
		if err := ValidLabel(sel.Label); err != nil {
			return Secret{}, err
		}
		a.details["label"] = sel.Label
	}
	rec, ver, err := m.o.Store.ReadVersion(ctx, path, sel)
	if err != nil {
		return Secret{}, err
	}
	a.details["version"] = strconv.FormatInt(ver.Version, 10)
	// A row handed back for another secret or version (a swapped or
	// copied row, a store bug) is refused before decryption.
	if ver.SecretID != rec.ID || (sel.Version != 0 && ver.Version != sel.Version) || rec.Path != path {
		return Secret{}, ErrTampered
	}
	switch {
	case !ver.DestroyedAt.IsZero():
		return Secret{}, ErrDestroyed
	case !ver.DeletedAt.IsZero():
		return Secret{}, ErrDeleted
	}
	v, err := open(m.o.Sealer, rec.ID, path, ver)
	if err != nil {
		return Secret{}, err
	}
	a.details["value_hmac"] = m.valueHMAC(v)
	return Secret{Path: path, Version: ver.Version, Labels: sortedLabels(ver.Labels), Value: v, Metadata: cloneMeta(rec.Metadata), CreatedAt: ver.CreatedAt}, nil
}

// List returns the secrets under prefix that p may list (capability list
// on each path), by path.
func (m *Manager) List(ctx context.Context, p Principal, prefix Prefix) ([]Meta, error) {
	a := m.begin(p, audit.ActionSecretList, prefix.String())
	delete(a.details, "path")
	a.details["prefix"] = prefix.String()
	out, err := m.list(ctx, p, prefix)
	if err == nil {
		a.details["count"] = strconv.Itoa(len(out))
	}
	if err := a.done(ctx, err); err != nil {
		return nil, err
	}
	return out, nil
}

func (m *Manager) list(ctx context.Context, p Principal, prefix Prefix) ([]Meta, error) {
	if prefix.String() == "" {
		return nil, invalid("the prefix is empty")
	}
	recs, err := m.o.Store.ListSecrets(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := []Meta{}
	for _, r := range recs {
		// Filtered per path: a principal sees only what it may list, and
		// learns nothing of the rest (not even how many).
		if prefix.Covers(r.Path) && m.o.Policies.Allowed(p, CapList, r.Path) {
			out = append(out, metaOf(r))
		}
	}
	// By path bytewise, whatever the database's collation.
	slices.SortFunc(out, func(a, b Meta) int { return strings.Compare(string(a.Path), string(b.Path)) })
	return out, nil
}

// Versions returns the secret's metadata and every version (without
// values). Capability list.
func (m *Manager) Versions(ctx context.Context, p Principal, path Path) (Meta, []VersionInfo, error) {
	a := m.begin(p, audit.ActionSecretList, string(path))
	meta, vs, err := m.versions(ctx, p, path)
	if err := a.done(ctx, err); err != nil {
		return Meta{}, nil, err
	}
	return meta, vs, nil
}

func (m *Manager) versions(ctx context.Context, p Principal, path Path) (Meta, []VersionInfo, error) {
	if err := m.allow(p, CapList, path); err != nil {
		return Meta{}, nil, err
	}
	if err := checkPath(path); err != nil {
		return Meta{}, nil, err
	}
	rec, err := m.o.Store.SecretByPath(ctx, path)
	if err != nil {
		return Meta{}, nil, err
	}
	vrs, err := m.o.Store.SecretVersions(ctx, rec.ID)
	if err != nil {
		return Meta{}, nil, err
	}
	out := make([]VersionInfo, len(vrs))
	for i, v := range vrs {
		out[i] = infoOf(v)
	}
	return metaOf(rec), out, nil
}
