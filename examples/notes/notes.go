package notes

import (
	"database/sql"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rampart-auth/rampart/jwtauth"
)

// Note limits, the same as schemas/note.json (which counts characters;
// the body's byte cap is this service's own, stricter rule).
const (
	MaxTitleChars    = 200
	MaxNoteBodyBytes = 32 << 10 // a note body: 32 KiB
	MaxQueryChars    = 200      // ?q= search text
)

// noteInput is the POST and PUT body. PUT replaces the whole note.
type noteInput struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

// note is a stored note as the API shows it.
type note struct {
	ID        int64  `json:"id"`
	Title     string `json:"title"`
	Body      string `json:"body"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

func (in *noteInput) validate() []fieldError {
	var errs []fieldError
	if n := utf8.RuneCountInString(in.Title); n < 1 || n > MaxTitleChars {
		errs = append(errs, fieldError{Pointer: "/title", Detail: "must be 1-200 characters"})
	} else if strings.ContainsFunc(in.Title, isControl) {
		errs = append(errs, fieldError{Pointer: "/title", Detail: "must not contain control characters"})
	}
	if len(in.Body) > MaxNoteBodyBytes {
		errs = append(errs, fieldError{Pointer: "/body", Detail: "must be at most 32768 bytes"})
	} else if strings.IndexByte(in.Body, 0) >= 0 {
		// PostgreSQL text cannot hold NUL; refused on both databases so
		// they accept the same notes.
		errs = append(errs, fieldError{Pointer: "/body", Detail: "must not contain NUL characters"})
	}
	return errs
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

func readNote(r *http.Request) (noteInput, error) {
	var in noteInput
	if err := decodeStrict(r, &in, "title", "body"); err != nil {
		return in, err
	}
	if errs := in.validate(); len(errs) > 0 {
		return in, &apiError{status: http.StatusUnprocessableEntity, code: "invalid_note",
			detail: "The note does not meet the rules.", fields: errs}
	}
	return in, nil
}

// parseID reads a note id: a positive decimal int64 in canonical form (no
// sign, no leading zero, no hex, no spaces). Anything else is not an id of
// the caller's note and gets the same 404 as a missing one.
func parseID(s string) (int64, bool) {
	if s == "" || len(s) > 19 || s[0] < '1' || s[0] > '9' {
		return 0, false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil
}

func (s *Service) createNote(w http.ResponseWriter, r *http.Request, a *jwtauth.Assertion) error {
	in, err := readNote(r)
	if err != nil {
		return err
	}
	now := time.Now().Unix()
	var id int64
	if err := s.db.QueryRowContext(r.Context(), s.q.insertNote, a.Subject, in.Title, in.Body, now, now).Scan(&id); err != nil {
		return internalError(err)
	}
	w.Header().Set("Location", "/api/notes/"+strconv.FormatInt(id, 10))
	writeJSON(w, http.StatusCreated, note{ID: id, Title: in.Title, Body: in.Body, CreatedAt: stamp(now), UpdatedAt: stamp(now)})
	return nil
}

func (s *Service) getNote(w http.ResponseWriter, r *http.Request, a *jwtauth.Assertion) error {
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		return errNotFound
	}
	n, err := scanNote(s.db.QueryRowContext(r.Context(), s.q.getNote, id, a.Subject))
	if errors.Is(err, sql.ErrNoRows) {
		return errNotFound
	} else if err != nil {
		return internalError(err)
	}
	writeJSON(w, http.StatusOK, n)
	return nil
}

// updateNote replaces the caller's note. A malformed id is refused before
// the body is read; a well-formed id with a bad body is 400/422 whoever
// owns it, and only then does the owner-scoped UPDATE decide 404. So no
// answer depends on whether someone else's note exists.
func (s *Service) updateNote(w http.ResponseWriter, r *http.Request, a *jwtauth.Assertion) error {
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		return errNotFound
	}
	in, err := readNote(r)
	if err != nil {
		return err
	}
	res, err := s.db.ExecContext(r.Context(), s.q.updateNote, in.Title, in.Body, time.Now().Unix(), id, a.Subject)
	if err := oneRow(res, err); err != nil {
		return err
	}
	n, err := scanNote(s.db.QueryRowContext(r.Context(), s.q.getNote, id, a.Subject))
	if err != nil {
		// Deleted between the two statements: gone, as far as the caller knows.
		return errNotFound
	}
	writeJSON(w, http.StatusOK, n)
	return nil
}

func (s *Service) deleteNote(w http.ResponseWriter, r *http.Request, a *jwtauth.Assertion) error {
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		return errNotFound
	}
	res, err := s.db.ExecContext(r.Context(), s.q.deleteNote, id, a.Subject)
	if err := oneRow(res, err); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// oneRow maps the result of an owner-scoped statement: no row is 404.
func oneRow(res sql.Result, err error) error {
	if err != nil {
		return internalError(err)
	}
	n, err := res.RowsAffected()
	switch {
	case err != nil:
		return internalError(err)
	case n == 0:
		return errNotFound
	}
	return nil
}

type rowScanner interface{ Scan(dest ...any) error }

func scanNote(row rowScanner) (note, error) {
	var (
		n        note
		cre, upd int64
	)
	if err := row.Scan(&n.ID, &n.Title, &n.Body, &cre, &upd); err != nil {
		return note{}, err
	}
	n.CreatedAt, n.UpdatedAt = stamp(cre), stamp(upd)
	return n, nil
}

func stamp(unix int64) string { return time.Unix(unix, 0).UTC().Format(time.RFC3339) }
