package secrets

import (
	"context"
	"strconv"

	"github.com/rampart-auth/rampart/internal/audit"
)

// Labels every secret may carry. current is what a read without selector
// returns; pending is a rotation's new version before it is promoted;
// previous is where current was before its last move (AWS Secrets
// Manager's AWSCURRENT / AWSPENDING / AWSPREVIOUS staging labels).
const (
	LabelCurrent  = "current"
	LabelPending  = "pending"
	LabelPrevious = "previous"
)

// maxLabelLen bounds a label.
const maxLabelLen = 32

// ValidLabel checks s against [a-z][a-z0-9_-]{0,31}.
func ValidLabel(s string) error {
	if s == "" || len(s) > maxLabelLen {
		return invalid("a label is 1 to 32 characters")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '_' || c == '-'):
		default:
			return invalid("a label starts with a lower-case letter and holds only a-z, 0-9, '_' and '-'")
		}
	}
	return nil
}

// MoveLabel points label at version to of the secret at path. expect
// (CAS): nil no check; 0 the label must not exist; n it must be at n now
// (else ErrConflict). Moving current points previous at the old current
// in the same transaction. Moving a label to a deleted or destroyed
// version is ErrInvalid. Capability write (rotate also suffices: a
// rotation promotes pending to current).
func (m *Manager) MoveLabel(ctx context.Context, p Principal, path Path, label string, to int64, expect *int64) error {
	a := m.begin(p, audit.ActionSecretLabel, string(path))
	a.details["op"] = "move"
	a.details["label"] = label
	a.details["version"] = strconv.FormatInt(to, 10)
	err := m.moveLabel(ctx, p, path, label, to, expect)
	return a.done(ctx, err)
}

func (m *Manager) moveLabel(ctx context.Context, p Principal, path Path, label string, to int64, expect *int64) error {
	if err := m.allowLabel(p, path); err != nil {
		return err
	}
	if err := checkLabelOp(path, label, expect); err != nil {
		return err
	}
	if to < 1 {
		return invalid("a version number is positive")
	}
	rec, err := m.o.Store.SecretByPath(ctx, path)
	if err != nil {
		return err
	}
	return m.o.Store.MoveLabel(ctx, rec.ID, label, to, expect, m.o.Clock().UTC())
}

// RemoveLabel removes label from the secret at path; expect as in
// MoveLabel. The current label cannot be removed (a secret without it
// has nothing to read): move it instead.
func (m *Manager) RemoveLabel(ctx context.Context, p Principal, path Path, label string, expect *int64) error {
	a := m.begin(p, audit.ActionSecretLabel, string(path))
	a.details["op"] = "remove"
	a.details["label"] = label
	err := m.removeLabel(ctx, p, path, label, expect)
	return a.done(ctx, err)
}

func (m *Manager) removeLabel(ctx context.Context, p Principal, path Path, label string, expect *int64) error {
	if err := m.allowLabel(p, path); err != nil {
		return err
	}
	if err := checkLabelOp(path, label, expect); err != nil {
		return err
	}
	if label == LabelCurrent {
		return invalid("the current label cannot be removed; move it to another version")
	}
	rec, err := m.o.Store.SecretByPath(ctx, path)
	if err != nil {
		return err
	}
	return m.o.Store.RemoveLabel(ctx, rec.ID, label, expect, m.o.Clock().UTC())
}

// allowLabel: moving labels is a write, or part of a rotation.
func (m *Manager) allowLabel(p Principal, path Path) error {
	if m.o.Policies.Allowed(p, CapWrite, path) || m.o.Policies.Allowed(p, CapRotate, path) {
		return nil
	}
	return ErrForbidden
}

func checkLabelOp(path Path, label string, expect *int64) error {
	if err := checkPath(path); err != nil {
		return err
	}
	if err := ValidLabel(label); err != nil {
		return err
	}
	if expect != nil && *expect < 0 {
		return invalid("expect is a version number, 0 for an absent label")
	}
	return nil
}
