package notes

// queries are every SQL statement of the service: constants written with
// '?' placeholders, rebound once for the driver at Open. No statement is
// ever built from request data; values travel only as arguments (OWASP SQL
// Injection Prevention Cheat Sheet, defence 1: prepared statements with
// parameterized queries).
type queries struct {
	userBySubject string
	insertUser    string
	listNotes     string
	searchNotes   string
	getNote       string
	insertNote    string
	updateNote    string
	deleteNote    string
}

func newQueries(driver string) queries {
	b := func(q string) string { return bind(driver, q) }
	return queries{
		userBySubject: b(`SELECT username, email FROM notes_users WHERE subject = ?`),
		// ON CONFLICT DO NOTHING (both SQLite and PostgreSQL): a second
		// account for a subject, or a taken username, inserts no row, and
		// the handler turns "0 rows" into 409 without parsing driver errors.
		insertUser: b(`INSERT INTO notes_users (subject, username, email, password_hash, created_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
		// LIMIT 100: one request cannot make the service read and send a
		// user's whole history.
		listNotes: b(`SELECT id, title, body, created_at, updated_at FROM notes
			WHERE owner = ? ORDER BY id DESC LIMIT 100`),
		// The pattern is an argument built by likePattern, with % _ and \
		// escaped, so the search text matches literally. lower() on both
		// sides gives the same case-insensitive match on both databases.
		searchNotes: b(`SELECT id, title, body, created_at, updated_at FROM notes
			WHERE owner = ? AND (lower(title) LIKE lower(?) ESCAPE '\' OR lower(body) LIKE lower(?) ESCAPE '\')
			ORDER BY id DESC LIMIT 100`),
		// Every statement on one note names its owner: the row is found
		// only when it is the caller's (OWASP IDOR Prevention Cheat Sheet).
		getNote: b(`SELECT id, title, body, created_at, updated_at FROM notes WHERE id = ? AND owner = ?`),
		insertNote: b(`INSERT INTO notes (owner, title, body, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?) RETURNING id`),
		updateNote: b(`UPDATE notes SET title = ?, body = ?, updated_at = ? WHERE id = ? AND owner = ?`),
		deleteNote: b(`DELETE FROM notes WHERE id = ? AND owner = ?`),
	}
}
