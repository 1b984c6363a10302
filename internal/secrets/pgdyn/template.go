package pgdyn

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-auth/rampart/internal/secrets"
)

// Template placeholders. A statement holds only these; anything else
// between "{{" and "}}" (or a "{{" never closed) is refused.
const (
	phName       = "name"
	phPassword   = "password"
	phExpiration = "expiration"
)

// maxStatements and maxStatementLen bound a role's templates (operator
// configuration, but a bound keeps a typo from becoming a megabyte of SQL).
const (
	maxStatements   = 32
	maxStatementLen = 8 << 10
)

// CheckTemplate reports whether every statement of stmts is a valid
// template: non-empty, at most 8 KiB, and using only the placeholders
// {{name}}, {{password}} and {{expiration}} (spelt exactly so). The
// config package calls it at validation, New again for every role.
func CheckTemplate(stmts []string) error {
	if len(stmts) > maxStatements {
		return fmt.Errorf("pgdyn: %d statements; at most %d", len(stmts), maxStatements)
	}
	for i, s := range stmts {
		if strings.TrimSpace(s) == "" {
			return fmt.Errorf("pgdyn: statement %d is empty", i)
		}
		if len(s) > maxStatementLen {
			return fmt.Errorf("pgdyn: statement %d is longer than %d bytes", i, maxStatementLen)
		}
		if _, err := placeholders(s); err != nil {
			return fmt.Errorf("pgdyn: statement %d: %w", i, err)
		}
	}
	return nil
}

// placeholders returns the placeholders s uses, refusing unknown ones.
func placeholders(s string) (map[string]bool, error) {
	used := map[string]bool{}
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			return used, nil
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return nil, errors.New(`a "{{" is not closed by "}}"`)
		}
		name := s[i+2 : i+j]
		switch name {
		case phName, phPassword, phExpiration:
			used[name] = true
		default:
			// %q of at most 32 bytes: the text is the operator's own
			// template, safe to echo, bounded so an error stays short.
			if len(name) > 32 {
				name = name[:32]
			}
			return nil, fmt.Errorf("unknown placeholder {{%q}}; use {{name}}, {{password}} or {{expiration}}", name)
		}
		s = s[i+j+2:]
	}
}

// vars are the values of one lease's placeholders, already quoted.
type vars struct {
	name, password, expiration string
}

// render replaces the placeholders of stmt in one left-to-right pass (a
// value is never scanned again, so it cannot expand into another
// placeholder). stmt passed CheckTemplate; an unknown placeholder here is
// an error all the same. A placeholder whose value is empty (the password
// in a revocation statement) is refused.
func render(stmt string, v vars) (string, error) {
	var b strings.Builder
	b.Grow(len(stmt) + 64)
	for {
		i := strings.Index(stmt, "{{")
		if i < 0 {
			b.WriteString(stmt)
			return b.String(), nil
		}
		j := strings.Index(stmt[i:], "}}")
		if j < 0 {
			return "", errors.New(`pgdyn: a "{{" is not closed`)
		}
		var val string
		switch stmt[i+2 : i+j] {
		case phName:
			val = v.name
		case phPassword:
			val = v.password
		case phExpiration:
			val = v.expiration
		default:
			return "", errors.New("pgdyn: unknown placeholder")
		}
		if val == "" {
			return "", fmt.Errorf("pgdyn: placeholder {{%s}} has no value here", stmt[i+2:i+j])
		}
		b.WriteString(stmt[:i])
		b.WriteString(val)
		stmt = stmt[i+j+2:]
	}
}

// quoteIdent quotes a generated role name as an identifier
// (pgx.Identifier.Sanitize: double quotes, inner quotes doubled).
func quoteIdent(name string) string { return pgx.Identifier{name}.Sanitize() }

// quoteLiteral quotes a Rampart-generated value as a string literal. The
// value comes from a closed alphabet (base64url, digits and the time
// punctuation) with no quote or backslash, so single quotes make a
// literal whatever standard_conforming_strings says (PostgreSQL docs
// §4.1.2.1); anything else is refused rather than escaped, because it can
// only mean a bug.
func quoteLiteral(v string) (string, error) {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '_' || c == ':' || c == '.' || c == '+' || c == ' ':
		default:
			return "", errors.New("pgdyn: a generated value left the safe alphabet")
		}
	}
	return "'" + v + "'", nil
}

// namePrefix is "rampart_" and the first 8 hex digits of SHA-256 of the
// role path: every lease of one role shares it (an operator can find the
// role's users), and nothing of the path itself reaches SQL.
func namePrefix(path secrets.Path) string {
	h := sha256.Sum256([]byte(path))
	return "rampart_" + hex.EncodeToString(h[:4]) + "_"
}

// NamePrefix returns the prefix of every username of the role at path
// ("rampart_<8 hex>_"), e.g. to find them in pg_roles.
func NamePrefix(path secrets.Path) string { return namePrefix(path) }

// newName returns a fresh role name: the role's prefix and 16 random hex
// digits, 33 bytes (PostgreSQL's limit is 63, NAMEDATALEN-1), lower case
// so it is the same quoted or not.
func newName(path secrets.Path) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("pgdyn: random: %w", err)
	}
	name := namePrefix(path) + hex.EncodeToString(b[:])
	if !validName(name) {
		return "", errors.New("pgdyn: generated role name is malformed")
	}
	return name, nil
}

// validName reports whether name is rampart_<8 hex>_<16 hex>.
func validName(name string) bool {
	if len(name) != 33 || !strings.HasPrefix(name, "rampart_") || name[16] != '_' {
		return false
	}
	for i, c := range name[8:] {
		if i == 8 {
			continue
		}
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// newPassword returns 32 random bytes, base64url without padding (43
// characters, 256 bits: OWASP Secrets Management Cheat Sheet, generate
// with a CSPRNG).
func newPassword() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("pgdyn: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// newID returns a random 128-bit hex lease id.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("pgdyn: random: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// validID reports whether id is 32 lower-case hex digits.
func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// expirationLiteral is t as a timestamptz literal in UTC with
// microseconds (PostgreSQL's precision): "2026-12-04 20:00:00.000000+00".
func expirationLiteral(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05.000000") + "+00"
}
