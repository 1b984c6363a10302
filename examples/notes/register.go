package notes

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"regexp"
	"time"

	"github.com/rampart-auth/rampart/jwtauth"
)

// usernamePattern is the username rule, the same as schemas/register.json:
// lowercase ASCII only, so no two usernames differ only by case or by a
// look-alike Unicode letter (OWASP Authentication Cheat Sheet, "User IDs").
// Go's $ matches only at the very end (no multi-line mode), so a trailing
// newline is refused.
var usernamePattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{2,31}$`)

// MaxEmailBytes is the longest address accepted (RFC 5321 §4.5.3.1.3: a
// path is at most 256 octets including the angle brackets).
const MaxEmailBytes = 254

// registration is the POST /api/users body.
type registration struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// account is what the API shows of an account: never the hash.
type account struct {
	Username string `json:"username"`
	Email    string `json:"email"`
}

// validate returns every violated rule, as JSON pointers into the body.
func (reg *registration) validate() []fieldError {
	var errs []fieldError
	add := func(ptr, detail string) { errs = append(errs, fieldError{Pointer: ptr, Detail: detail}) }
	if !usernamePattern.MatchString(reg.Username) {
		add("/username", "must be 3-32 characters: a lowercase letter, then lowercase letters, digits, _ or -")
	}
	if msg := checkEmail(reg.Email); msg != "" {
		add("/email", msg)
	}
	if msg := checkPassword(reg.Password, reg.Username, reg.Email); msg != "" {
		add("/password", msg)
	}
	return errs
}

// checkEmail accepts exactly an RFC 5322 addr-spec in printable ASCII, at
// most 254 bytes: net/mail must parse it, with no display name, and give
// back the very same string, so "Bob <b@example.com>", comments, quoted
// local parts and surrounding spaces are all refused rather than
// rewritten (what is stored is what was sent).
func checkEmail(e string) string {
	if e == "" {
		return "is required"
	}
	if len(e) > MaxEmailBytes {
		return fmt.Sprintf("must be at most %d bytes", MaxEmailBytes)
	}
	for i := 0; i < len(e); i++ {
		if e[i] <= ' ' || e[i] >= 0x7f {
			return "must be printable ASCII with no spaces"
		}
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Name != "" || a.Address != e {
		return "must be a plain address such as name@example.com"
	}
	return ""
}

// register creates the account of the assertion's subject: one account
// per subject (a second registration is 409), one account per username.
func (s *Service) register(w http.ResponseWriter, r *http.Request, a *jwtauth.Assertion) error {
	var reg registration
	if err := decodeStrict(r, &reg, "username", "email", "password"); err != nil {
		return err
	}
	if errs := reg.validate(); len(errs) > 0 {
		return &apiError{status: http.StatusUnprocessableEntity, code: "invalid_registration",
			detail: "The registration does not meet the rules.", fields: errs}
	}
	// Checked before hashing, so a repeated registration costs no argon2.
	if _, found, err := s.accountOf(r, a.Subject); err != nil {
		return err
	} else if found {
		return errAccountExists
	}
	hash, err := s.hashPassword(r.Context(), reg.Password)
	if err != nil {
		return &apiError{status: http.StatusServiceUnavailable, code: "busy", detail: "Try again shortly.", err: err}
	}
	res, err := s.db.ExecContext(r.Context(), s.q.insertUser, a.Subject, reg.Username, reg.Email, hash, time.Now().Unix())
	if err != nil {
		return internalError(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return internalError(err)
	} else if n == 0 {
		return s.conflict(r, a.Subject)
	}
	w.Header().Set("Location", "/api/users/me")
	writeJSON(w, http.StatusCreated, account{Username: reg.Username, Email: reg.Email})
	return nil
}

var (
	errAccountExists = fail(http.StatusConflict, "account_exists", "This identity already has an account.")
	errUsernameTaken = fail(http.StatusConflict, "username_taken", "This username is taken.")
)

// conflict tells which uniqueness rule refused an insert: the subject (a
// concurrent registration won) or the username.
func (s *Service) conflict(r *http.Request, subject string) error {
	_, found, err := s.accountOf(r, subject)
	switch {
	case err != nil:
		return err
	case found:
		return errAccountExists
	default:
		return errUsernameTaken
	}
}

// accountOf loads the account bound to subject.
func (s *Service) accountOf(r *http.Request, subject string) (account, bool, error) {
	var acc account
	err := s.db.QueryRowContext(r.Context(), s.q.userBySubject, subject).Scan(&acc.Username, &acc.Email)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return account{}, false, nil
	case err != nil:
		return account{}, false, internalError(err)
	}
	return acc, true, nil
}

// me is GET /api/users/me: who the gateway says is calling, and their
// account when they registered one.
func (s *Service) me(w http.ResponseWriter, r *http.Request, a *jwtauth.Assertion) error {
	acc, found, err := s.accountOf(r, a.Subject)
	if err != nil {
		return err
	}
	out := struct {
		Subject  string   `json:"subject"`
		ClientID string   `json:"client_id"`
		Scopes   []string `json:"scopes"`
		Username string   `json:"username,omitempty"`
		Email    string   `json:"email,omitempty"`
	}{Subject: a.Subject, ClientID: a.ClientID, Scopes: a.Scopes()}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	if found {
		out.Username, out.Email = acc.Username, acc.Email
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
