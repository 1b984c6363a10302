package secrets

import (
	"errors"
	"fmt"
)

// Errors of the manager, matched with errors.Is. Their messages are safe
// to show a caller (no value, no internal cause); the HTTP layer maps
// them: ErrInvalid 400, ErrForbidden 403, ErrNotFound 404, ErrConflict
// 409, ErrDeleted 404, ErrDestroyed 404, ErrTampered 500.
var (
	// ErrInvalid: a malformed path, label, selector or option.
	ErrInvalid = errors.New("secrets: invalid request")
	// ErrForbidden: the principal lacks the capability on the path. It is
	// returned before the store is consulted, so it says nothing about
	// whether the path exists (no existence oracle).
	ErrForbidden = errors.New("secrets: forbidden")
	// ErrNotFound: no such secret, version or label.
	ErrNotFound = errors.New("secrets: not found")
	// ErrConflict: a check-and-set expectation did not hold.
	ErrConflict = errors.New("secrets: conflict: the secret changed (check-and-set failed)")
	// ErrDeleted: the version is soft-deleted (Undelete restores it).
	ErrDeleted = errors.New("secrets: the version is deleted")
	// ErrDestroyed: the version's value is destroyed for good.
	ErrDestroyed = errors.New("secrets: the version is destroyed")
	// ErrTampered: a stored row does not open under its own identity (a
	// ciphertext or data key altered, swapped between versions or moved
	// between secrets). A 500-class error: the store, not the caller, is
	// at fault; the event is audited.
	ErrTampered = errors.New("secrets: a stored secret failed its integrity check")
)

// invalid returns ErrInvalid with a public detail.
func invalid(detail string) error {
	return fmt.Errorf("%w: %s", ErrInvalid, detail)
}
