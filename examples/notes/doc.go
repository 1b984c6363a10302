// Package notes is the protected sample API that runs behind Rampart's
// gateway: user registration with a strict schema and argon2id passwords,
// GET /api/users/me, and per-user notes with a rich-text HTML body.
//
// It shows what a real service behind the gateway does, with nothing but
// the public jwtauth package and the standard library (plus the SQLite and
// PostgreSQL drivers and golang.org/x/crypto):
//
//   - Every request except GET /healthz must carry exactly one valid
//     X-Rampart-Assertion, minted by the gateway for this service's own
//     origin, unused, and naming a subject (jwtauth.AssertionVerifier).
//     Identity is read from that assertion only, never from the plain
//     X-Rampart-Subject / -Client / -Scopes headers.
//   - Scopes are checked again here (notes:read, notes:write): defence in
//     depth behind the gateway's own route rules.
//   - Every note query carries the owner (the assertion's subject) in its
//     WHERE clause, so another user's note, a missing note and a malformed
//     id are one and the same 404 (no existence oracle: OWASP IDOR
//     Prevention Cheat Sheet).
//   - Every query is parameterized (OWASP SQL Injection Prevention Cheat
//     Sheet, defence 1); LIKE patterns escape % and _.
//   - Request bodies are capped at 64 KiB and decoded strictly: unknown,
//     duplicate or case-variant keys, trailing data and invalid UTF-8 are
//     refused.
//
// The note body is stored as given: the gateway's sanitize_html rule
// cleans it before it arrives, and this service only ever answers JSON,
// never HTML.
package notes
