package input

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// strictJSON accepts exactly one JSON value with no duplicate object
// member at any depth, nesting at most MaxDepth, nothing after it. A
// duplicate member is the classic parser differential (RFC 8259 §4: "the
// behavior of software that receives such an object is unpredictable"):
// the schema would check one value and the service read the other, so the
// gateway refuses it rather than pick one. json.Valid checks the grammar
// first, so the scan below may trust the structure.
func strictJSON(b []byte) error {
	if !utf8.Valid(b) {
		// encoding/json reads invalid UTF-8 as U+FFFD: the gateway would
		// check (and sanitize) a string the service reads differently.
		return errors.New("invalid UTF-8")
	}
	if !json.Valid(b) {
		var v any
		if err := json.Unmarshal(b, &v); err != nil && strings.Contains(err.Error(), "after top-level value") {
			return errors.New("data after the JSON value")
		}
		return errors.New("malformed JSON")
	}
	s := scanner{b: b}
	return s.value()
}

// scanner walks valid JSON looking for duplicate members and depth.
type scanner struct {
	b     []byte
	i     int
	depth int
}

func (s *scanner) ws() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

func (s *scanner) value() error {
	s.ws()
	switch s.b[s.i] {
	case '{':
		return s.object()
	case '[':
		return s.array()
	case '"':
		s.str()
	default:
		for s.i < len(s.b) && !strings.ContainsRune(",]} \t\n\r", rune(s.b[s.i])) {
			s.i++
		}
	}
	return nil
}

func (s *scanner) enter() error {
	s.depth++
	if s.depth > MaxDepth {
		return errors.New("nested deeper than " + strconv.Itoa(MaxDepth))
	}
	s.i++
	return nil
}

func (s *scanner) array() error {
	if err := s.enter(); err != nil {
		return err
	}
	for {
		s.ws()
		if s.b[s.i] == ']' {
			s.i++
			s.depth--
			return nil
		}
		if err := s.value(); err != nil {
			return err
		}
		s.ws()
		if s.b[s.i] == ',' {
			s.i++
		}
	}
}

func (s *scanner) object() error {
	if err := s.enter(); err != nil {
		return err
	}
	var keys []string
	var seen map[string]bool // past 8 members
	for {
		s.ws()
		if s.b[s.i] == '}' {
			s.i++
			s.depth--
			return nil
		}
		start := s.i
		s.str()
		key := string(s.b[start+1 : s.i-1])
		if strings.IndexByte(key, '\\') >= 0 {
			// Escaped spellings of one name ("a", "\u0061") are one name.
			if err := json.Unmarshal(s.b[start:s.i], &key); err != nil {
				return errors.New("malformed JSON")
			}
		}
		if dup(&keys, &seen, key) {
			return errors.New("duplicate member " + strconv.Quote(clip(key)))
		}
		s.ws()
		s.i++ // ':'
		if err := s.value(); err != nil {
			return err
		}
		s.ws()
		if s.b[s.i] == ',' {
			s.i++
		}
	}
}

// dup records key and reports whether it was seen: a short list first, a
// map for large objects.
func dup(keys *[]string, seen *map[string]bool, key string) bool {
	if *seen == nil {
		for _, k := range *keys {
			if k == key {
				return true
			}
		}
		*keys = append(*keys, key)
		if len(*keys) > 8 {
			*seen = make(map[string]bool, 16)
			for _, k := range *keys {
				(*seen)[k] = true
			}
		}
		return false
	}
	if (*seen)[key] {
		return true
	}
	(*seen)[key] = true
	return false
}

// str skips a string starting at its opening quote.
func (s *scanner) str() {
	s.i++
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '\\':
			s.i += 2
		case '"':
			s.i++
			return
		default:
			s.i++
		}
	}
}

func clip(s string) string {
	if len(s) > 40 {
		return strings.ToValidUTF8(s[:40], "") + "…"
	}
	return s
}

// parsePointer splits an RFC 6901 JSON pointer into unescaped tokens.
func parsePointer(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if !strings.HasPrefix(p, "/") {
		return nil, errors.New("a JSON pointer starts with /")
	}
	parts := strings.Split(p[1:], "/")
	for i, t := range parts {
		for j := 0; j < len(t); j++ {
			if t[j] == '~' && (j+1 >= len(t) || (t[j+1] != '0' && t[j+1] != '1')) {
				return nil, errors.New("~ must be written ~0 or ~1")
			}
		}
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

// pointer writes instance-location tokens as an RFC 6901 pointer.
func pointer(toks []string) string {
	var b strings.Builder
	for _, t := range toks {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// clean sanitizes the strings at the configured pointers. A pointer that
// is absent is skipped; one that names a non-string is an error.
func (r *Rules) clean(doc *any) (bool, []FieldError) {
	changed := false
	var errs []FieldError
	for _, toks := range r.sanitize {
		parent, key, ok := walk(*doc, toks)
		if !ok {
			continue
		}
		v := get(parent, key)
		s, isString := v.(string)
		if !isString {
			if v != nil {
				errs = append(errs, FieldError{Pointer: pointer(toks), Detail: "must be a string (rich text)"})
			}
			continue
		}
		if c := SanitizeHTML(s); c != s {
			set(parent, key, c)
			changed = true
		}
	}
	return changed, errs
}

// walk finds the container holding the pointer's last token.
func walk(doc any, toks []string) (any, string, bool) {
	cur := doc
	for _, t := range toks[:len(toks)-1] {
		cur = get(cur, t)
		if cur == nil {
			return nil, "", false
		}
	}
	last := toks[len(toks)-1]
	switch c := cur.(type) {
	case map[string]any:
		_, ok := c[last]
		return c, last, ok
	case []any:
		i, err := strconv.Atoi(last)
		return c, last, err == nil && i >= 0 && i < len(c) && strconv.Itoa(i) == last
	}
	return nil, "", false
}

func get(c any, t string) any {
	switch c := c.(type) {
	case map[string]any:
		return c[t]
	case []any:
		if i, err := strconv.Atoi(t); err == nil && i >= 0 && i < len(c) && strconv.Itoa(i) == t {
			return c[i]
		}
	}
	return nil
}

func set(c any, t string, v any) {
	switch c := c.(type) {
	case map[string]any:
		c[t] = v
	case []any:
		if i, err := strconv.Atoi(t); err == nil && i >= 0 && i < len(c) {
			c[i] = v
		}
	}
}
