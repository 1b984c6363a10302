package pgrotate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-auth/rampart/internal/secrets"
)

// Credential is a PostgreSQL login: the value of a rotated secret is its
// JSON encoding {"username":"...","password":"..."}.
type Credential struct {
	Username string
	Password secrets.Value
}

// Bounds of a credential. A PostgreSQL identifier is at most NAMEDATALEN-1
// = 63 bytes (PostgreSQL docs, 4.1.1 Identifiers and Key Words); a
// password is bounded so a stored value cannot make the parser or the
// SCRAM computation work without limit.
const (
	maxUsername   = 63
	maxPassword   = 1024
	maxCredential = 4096
)

// ErrCredential is what every malformed value parses to (errors.Is).
// The cause added to it is a fixed phrase: a decoder message could quote
// a byte of the value (CWE-209: no secret in an error).
var ErrCredential = errors.New("pgrotate: the value is not a credential")

func credErr(why string) error { return fmt.Errorf("%w: %s", ErrCredential, why) }

// ParseCredential decodes v strictly: one JSON object holding exactly the
// string members "username" and "password", each once and non-empty,
// nothing before or after it. Unknown or duplicate members, other types,
// a NUL byte (PostgreSQL strings cannot hold one) and invalid UTF-8 are
// refused: two parsers must never read two different credentials from
// one value (duplicate keys; RFC 8259 §4, RFC 7493 §2.3). Errors never
// quote the value.
func ParseCredential(v secrets.Value) (Credential, error) {
	raw := v.Bytes()
	defer clear(raw)
	if len(raw) == 0 {
		return Credential{}, credErr("empty")
	}
	if len(raw) > maxCredential {
		return Credential{}, credErr("too long")
	}
	if !utf8.Valid(raw) {
		return Credential{}, credErr("not UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return Credential{}, credErr("not a JSON object")
	}
	var user string
	var pw []byte
	defer func() { clear(pw) }()
	seen := map[string]bool{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return Credential{}, credErr("malformed JSON")
		}
		key, _ := kt.(string)
		if key != "username" && key != "password" {
			return Credential{}, credErr(`only the members "username" and "password" are allowed`)
		}
		if seen[key] {
			return Credential{}, credErr("duplicate member")
		}
		seen[key] = true
		vt, err := dec.Token()
		if err != nil {
			return Credential{}, credErr("malformed JSON")
		}
		s, ok := vt.(string)
		if !ok {
			return Credential{}, credErr("a member is not a string")
		}
		if key == "username" {
			user = s
		} else {
			pw = []byte(s)
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return Credential{}, credErr("malformed JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return Credential{}, credErr("data after the object")
	}
	switch {
	case user == "" || len(user) > maxUsername:
		return Credential{}, credErr("the username is 1 to 63 bytes")
	case len(pw) == 0 || len(pw) > maxPassword:
		return Credential{}, credErr("the password is 1 to 1024 bytes")
	case bytes.IndexByte([]byte(user), 0) >= 0 || bytes.IndexByte(pw, 0) >= 0:
		return Credential{}, credErr("a member holds a NUL byte")
	case !utf8.ValidString(user) || !utf8.Valid(pw):
		return Credential{}, credErr("not UTF-8")
	}
	return Credential{Username: user, Password: secrets.NewValue(pw)}, nil
}

// Value returns c's JSON encoding as a secrets.Value.
func (c Credential) Value() (secrets.Value, error) {
	if c.Username == "" || c.Password.Len() == 0 {
		return secrets.Value{}, errors.New("pgrotate: a credential needs a username and a password")
	}
	pw := c.Password.Bytes()
	defer clear(pw)
	if !utf8.Valid(pw) {
		return secrets.Value{}, errors.New("pgrotate: the password is not UTF-8")
	}
	b, err := json.Marshal(struct { // #nosec G117 -- this is the secret's own value, stored sealed, never logged
		Username string `json:"username"`
		Password string `json:"password"`
	}{c.Username, string(pw)})
	if err != nil {
		return secrets.Value{}, errors.New("pgrotate: encode the credential")
	}
	defer clear(b)
	return secrets.NewValue(b), nil
}

// ConnConfig returns a copy of base that logs in as c (TLS, host, port,
// database and runtime parameters kept): how a consumer, and Test,
// connect with the credential.
func (c Credential) ConnConfig(base *pgx.ConnConfig) *pgx.ConnConfig {
	cc := base.Copy()
	cc.User = c.Username
	cc.Password = string(c.Password.Bytes())
	return cc
}
