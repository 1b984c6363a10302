package input

import (
	"errors"
	"fmt"
	"mime"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// DefaultMaxBodyBytes is the body cap of a route whose MaxBodyBytes is 0:
// a cap always applies, there is no "unlimited" (OWASP Denial of Service
// Cheat Sheet; CWE-770).
const DefaultMaxBodyBytes int64 = 1 << 20

// Spec is a route's request: block, with JSONSchema already an absolute
// (or working-directory-relative) path.
type Spec struct {
	// MaxBodyBytes caps the body; 0 means DefaultMaxBodyBytes (1 MiB).
	// Negative values are refused.
	MaxBodyBytes int64
	// ContentTypes are the media types (type/subtype, no parameters, no
	// wildcards) allowed for a request that has a body; empty means any,
	// except that a route with JSONSchema or SanitizeHTML only takes JSON.
	ContentTypes []string
	// JSONSchema is the file of a JSON Schema (draft 2020-12 unless its
	// $schema names another draft); "" means none.
	JSONSchema string
	// SanitizeHTML are RFC 6901 JSON pointers whose string values are
	// cleaned with SanitizeHTML before the body is forwarded (at most 64).
	SanitizeHTML []string
}

// Rules are a compiled Spec: immutable, safe for concurrent use.
type Rules struct {
	maxBody  int64
	types    map[string]bool // nil: any media type
	jsonOnly bool            // the body is parsed as JSON, so only JSON media types
	schema   *jsonschema.Schema
	ptrs     []pointer
}

// Compile checks s and builds its Rules: it reads and compiles the schema
// file once and parses the sanitize pointers. The error names the setting
// at fault and how to fix it.
func Compile(s Spec) (*Rules, error) {
	r := &Rules{maxBody: s.MaxBodyBytes}
	if s.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("input: max_body_bytes is %d: use a positive size in bytes, or 0 for the default %d", s.MaxBodyBytes, DefaultMaxBodyBytes)
	}
	if r.maxBody == 0 {
		r.maxBody = DefaultMaxBodyBytes
	}
	ptrs, err := compilePointers(s.SanitizeHTML)
	if err != nil {
		return nil, err
	}
	r.ptrs = ptrs
	r.jsonOnly = s.JSONSchema != "" || len(ptrs) > 0
	if r.types, err = compileTypes(s.ContentTypes, r.jsonOnly); err != nil {
		return nil, err
	}
	if s.JSONSchema != "" {
		if r.schema, err = compileSchema(s.JSONSchema); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// NeedsBody reports whether Check parses the body (a schema or sanitize
// pointers are set). Check buffers every body up to the cap either way, so
// that the cap is enforced in one place; without these rules it does not
// look inside.
func (r *Rules) NeedsBody() bool { return r.schema != nil || len(r.ptrs) > 0 }

// MaxBodyBytes is the body cap in force.
func (r *Rules) MaxBodyBytes() int64 { return r.maxBody }

func compilePointers(list []string) ([]pointer, error) {
	if len(list) > maxPointers {
		return nil, fmt.Errorf("input: sanitize_html lists %d pointers: at most %d are supported", len(list), maxPointers)
	}
	seen := map[string]bool{}
	out := make([]pointer, 0, len(list))
	for _, s := range list {
		if seen[s] {
			return nil, fmt.Errorf("input: sanitize_html lists %q twice", s)
		}
		seen[s] = true
		p, err := parsePointer(s)
		if err != nil {
			return nil, fmt.Errorf("input: sanitize_html: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// compileTypes normalizes the allowed media types. When the body is parsed
// as JSON, every allowed type must be JSON (application/json or a +json
// suffix, RFC 6839 §3.1), and an empty list means application/json: a
// body the gateway validated as JSON must not reach the service labelled
// as something it parses differently (content-type confusion).
func compileTypes(list []string, jsonOnly bool) (map[string]bool, error) {
	if len(list) == 0 {
		if jsonOnly {
			return map[string]bool{"application/json": true}, nil
		}
		return nil, nil
	}
	types := make(map[string]bool, len(list))
	for _, s := range list {
		mt, params, err := mime.ParseMediaType(s)
		switch {
		case err != nil || !strings.Contains(mt, "/"):
			return nil, fmt.Errorf("input: content_types: %q is not a media type such as application/json", s)
		case len(params) > 0:
			return nil, fmt.Errorf("input: content_types: %q has parameters: list the bare type/subtype (parameters are ignored when matching)", s)
		case strings.Contains(mt, "*"):
			return nil, fmt.Errorf("input: content_types: %q is a wildcard: list each media type", s)
		case jsonOnly && !isJSONType(mt):
			return nil, fmt.Errorf("input: content_types: %q is not a JSON media type, but json_schema or sanitize_html parses the body as JSON", s)
		}
		types[mt] = true
	}
	return types, nil
}

func isJSONType(mt string) bool {
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// errNoContentType and friends are the reasons checkType refuses.
var (
	errNoContentType = errors.New("a request with a body needs a Content-Type")
	errBadType       = errors.New("the request's Content-Type is not allowed on this route")
	errManyTypes     = errors.New("the request has more than one Content-Type")
	errCharset       = errors.New("a JSON body must be UTF-8")
)

// checkType applies the media type allowlist to a request that has a
// body. Parameters are ignored for matching, case is not significant
// (ParseMediaType lowers it). Several Content-Type fields are refused:
// the service might read another one than we checked. A JSON body with a
// charset other than UTF-8 is refused: we parse it as UTF-8 (RFC 8259
// §8.1), a service honouring the label would read another text.
func (r *Rules) checkType(values []string) error {
	if len(values) == 0 || strings.TrimSpace(values[0]) == "" {
		if r.types == nil {
			return nil
		}
		return errNoContentType
	}
	if len(values) > 1 {
		return errManyTypes
	}
	mt, params, err := mime.ParseMediaType(values[0])
	if err != nil {
		if r.types == nil {
			return nil
		}
		return errBadType
	}
	if r.types != nil && !r.types[mt] {
		return errBadType
	}
	if cs, ok := params["charset"]; ok && r.jsonOnly && !strings.EqualFold(cs, "utf-8") {
		return errCharset
	}
	return nil
}
