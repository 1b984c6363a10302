package admin

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/kms"
)

// AuditOpener opens the audit log keyed by a keyring's data keys, and
// returns how to flush and close it.
type AuditOpener func(kr *kms.Keyring) (Auditor, func(context.Context) error, error)

// MasterKeyRotation is the master-key rotation use case's input.
type MasterKeyRotation struct {
	Actor   string
	Current *kms.Keyring     // the checked current key
	Next    *kms.MasterKey   // the new key
	Files   []kms.FileRewrap // sealed files re-wrapped with the database (the TLS CA key)
	Audit   AuditOpener
}

// RotateMasterKey re-wraps every sealed secret under r.Next in one
// database transaction (kms.Rotate) and records master_key.rotate under
// the new data keys. A rotation that did not commit is recorded as a
// failure, best effort, under the current ones; the returned keyring is
// nil then. After a commit it is the new keyring, even when a step after
// the commit failed (the error wraps kms.ErrCommitted).
func RotateMasterKey(ctx context.Context, r MasterKeyRotation) (*kms.Keyring, error) {
	from := r.Current.Version()
	nkr, err := kms.Rotate(ctx, r.Current, r.Next, kms.RotateOptions{Files: r.Files})
	if nkr == nil {
		_ = recordRotation(ctx, r, r.Current, from, from+1, err)
		return nil, err
	}
	if aerr := recordRotation(ctx, r, nkr, from, nkr.Version(), nil); aerr != nil {
		err = errors.Join(err, fmt.Errorf("the master key was rotated to version %d, but the audit event could not be recorded: %w", nkr.Version(), aerr))
	}
	return nkr, err
}

// recordRotation records the rotation's outcome. It is recorded after the
// commit, not ahead of it: on SQLite the audit writer cannot write while
// the rotation's transaction holds the database.
func recordRotation(ctx context.Context, r MasterKeyRotation, kr *kms.Keyring, from, to uint32, failure error) error {
	if r.Audit == nil {
		return ErrUnavailable
	}
	al, closeAudit, err := r.Audit(kr)
	if err != nil {
		return err
	}
	ev := audit.Event{Actor: r.Actor, Action: audit.ActionMasterKeyRotate, Target: fmt.Sprintf("kek:v%d", to), Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"old_version": strconv.FormatUint(uint64(from), 10), "new_version": strconv.FormatUint(uint64(to), 10)}}
	if failure != nil {
		ev.Outcome, ev.Reason = audit.OutcomeFailure, "rotation_failed"
	}
	rerr := al.Record(ctx, ev)
	return errors.Join(rerr, closeAudit(context.WithoutCancel(ctx)))
}
