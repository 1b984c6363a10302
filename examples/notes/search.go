package notes

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/rampart-auth/rampart/jwtauth"
)

// listNotes is GET /api/notes[?q=text]: the caller's notes, newest first,
// at most 100; with q, those whose title or body contains q (case-
// insensitive for ASCII, % and _ matched literally).
func (s *Service) listNotes(w http.ResponseWriter, r *http.Request, a *jwtauth.Assertion) error {
	q, err := searchText(r.URL.RawQuery)
	if err != nil {
		return err
	}
	query, args := s.q.listNotes, []any{a.Subject}
	if q != "" {
		p := likePattern(q)
		query, args = s.q.searchNotes, []any{a.Subject, p, p}
	}
	rows, err := s.db.QueryContext(r.Context(), query, args...)
	if err != nil {
		return internalError(err)
	}
	defer rows.Close()
	out := []note{}
	for rows.Next() {
		n, err := scanNote(rows)
		if err != nil {
			return internalError(err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return internalError(err)
	}
	writeJSON(w, http.StatusOK, map[string][]note{"notes": out})
	return nil
}

var errBadQuery = fail(http.StatusBadRequest, "bad_query",
	"The only query parameter is q: at most once, 1-200 characters of valid UTF-8 with no control characters.")

// searchText reads the one optional parameter q. Unknown or repeated
// parameters are refused rather than ignored (which of two q values
// would a proxy in front have checked?), and so are invalid UTF-8, control
// characters and over-long text.
func searchText(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	vals, err := url.ParseQuery(raw)
	if err != nil || len(vals) != 1 || len(vals["q"]) != 1 {
		return "", errBadQuery
	}
	q := vals["q"][0]
	if !utf8.ValidString(q) || utf8.RuneCountInString(q) > MaxQueryChars || strings.ContainsFunc(q, isControl) {
		return "", errBadQuery
	}
	return q, nil
}

// likePattern makes q a LIKE pattern that matches q literally anywhere:
// the escape character, % and _ are escaped (ESCAPE '\' in the query), so
// "%" finds a percent sign rather than every note. The pattern is still
// passed as a parameter; escaping here is about LIKE's own wildcards, not
// about SQL syntax.
func likePattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(q) + "%"
}
