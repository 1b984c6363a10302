package secrets

import (
	"fmt"
	"strings"
)

// Path bounds (docs/secrets.md).
const (
	maxPathLen      = 256
	maxPathSegments = 16
	maxSegmentLen   = 63
)

// Path is a validated secret path: "team/service/name", 1 to 16 segments
// joined by '/', each [a-z0-9][a-z0-9._-]{0,62} without "..", at most 256
// bytes in all. The grammar is closed (ASCII lower case, digits and
// ". _ -" only), so a path cannot carry traversal ("..", "."), an empty
// segment, an encoded or Unicode look-alike separator, a NUL or upper
// case that a case-folding store would merge (OWASP Input Validation
// Cheat Sheet: allow-list validation). Only ParsePath makes one; a
// conversion Path(s) of an unchecked string is a bug.
type Path string

// ParsePath validates s. The error text names the rule broken, never
// more than the caller sent: it is safe to show.
func ParsePath(s string) (Path, error) {
	if s == "" {
		return "", invalid("the path is empty")
	}
	if len(s) > maxPathLen {
		return "", invalid(fmt.Sprintf("the path is longer than %d bytes", maxPathLen))
	}
	segs := strings.Split(s, "/")
	if len(segs) > maxPathSegments {
		return "", invalid(fmt.Sprintf("the path has more than %d segments", maxPathSegments))
	}
	for _, seg := range segs {
		if err := checkSegment(seg); err != nil {
			return "", err
		}
	}
	return Path(s), nil
}

// checkSegment validates one segment of a path.
func checkSegment(seg string) error {
	if seg == "" {
		return invalid("the path has an empty segment (a leading, trailing or double slash)")
	}
	if len(seg) > maxSegmentLen {
		return invalid(fmt.Sprintf("a path segment is longer than %d bytes", maxSegmentLen))
	}
	if strings.Contains(seg, "..") {
		return invalid(`a path segment contains ".."`)
	}
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return invalid("a path segment starts with a lower-case letter or a digit and holds only a-z, 0-9, '.', '_' and '-'")
		}
	}
	return nil
}

// String returns the path.
func (p Path) String() string { return string(p) }

// Prefix is a policy or list prefix: a Path, or "*" (every path).
type Prefix struct {
	all  bool
	path Path
}

// ParsePrefix validates s: "*" or a path.
func ParsePrefix(s string) (Prefix, error) {
	if s == "*" {
		return Prefix{all: true}, nil
	}
	p, err := ParsePath(s)
	if err != nil {
		return Prefix{}, err
	}
	return Prefix{path: p}, nil
}

// Covers reports whether path is under the prefix, by whole segments:
// "team/a" covers "team/a" and "team/a/x", never "team/ab" (a string
// prefix test would grant team/ab to a policy on team/a).
func (p Prefix) Covers(path Path) bool {
	if p.all {
		return true
	}
	if p.path == "" {
		return false
	}
	s, pre := string(path), string(p.path)
	return s == pre || (len(s) > len(pre) && s[len(pre)] == '/' && s[:len(pre)] == pre)
}

// String returns "*" or the path.
func (p Prefix) String() string {
	if p.all {
		return "*"
	}
	return string(p.path)
}

// All reports whether the prefix is "*".
func (p Prefix) All() bool { return p.all }

// Path returns the prefix's path ("" for "*").
func (p Prefix) Path() Path { return p.path }
