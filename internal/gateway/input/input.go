// Package input enforces a gateway route's request rules before anything
// reaches the upstream: the body cap (413), the content types (415), one
// strict JSON document (400), a JSON Schema (422 with the failing
// pointers) and HTML fields cleaned with one sanitizing policy.
package input

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Limits.
const (
	// DefaultMaxBodyBytes caps a body when the route sets no cap (1 MiB).
	DefaultMaxBodyBytes = 1 << 20
	// MaxDepth bounds JSON nesting: deeper documents are refused before
	// any validator recurses into them.
	MaxDepth = 64
	// MaxErrors bounds the errors of one 422 answer.
	MaxErrors = 50
	// maxDetail bounds one error's text (a pattern error may quote input).
	maxDetail = 200
	// maxSchemaBytes bounds a schema file.
	maxSchemaBytes = 1 << 20
)

// Spec is a route's request block. JSONSchema is a file path, already
// resolved against the configuration file's directory.
type Spec struct {
	MaxBodyBytes int64
	ContentTypes []string
	JSONSchema   string
	SanitizeHTML []string
}

// Rules are a compiled Spec; immutable and safe for concurrent use.
type Rules struct {
	max      int64
	types    map[string]bool
	schema   *jsonschema.Schema
	sanitize [][]string // parsed JSON pointers
}

// Compile checks s, reads and compiles its schema once.
func Compile(s Spec) (*Rules, error) {
	r := &Rules{max: s.MaxBodyBytes}
	if r.max <= 0 {
		r.max = DefaultMaxBodyBytes
	}
	for _, t := range s.ContentTypes {
		mt, params, err := mime.ParseMediaType(t)
		if err != nil || len(params) > 0 || !strings.Contains(mt, "/") {
			return nil, fmt.Errorf("content type %q: write type/subtype without parameters", t)
		}
		if r.types == nil {
			r.types = map[string]bool{}
		}
		r.types[mt] = true
	}
	for _, p := range s.SanitizeHTML {
		toks, err := parsePointer(p)
		if err != nil || len(toks) == 0 {
			return nil, fmt.Errorf("sanitize_html %q: not an RFC 6901 JSON pointer to a member (like /body)", p)
		}
		r.sanitize = append(r.sanitize, toks)
	}
	if s.JSONSchema != "" {
		sch, err := compileSchema(s.JSONSchema)
		if err != nil {
			return nil, err
		}
		r.schema = sch
	}
	return r, nil
}

// NeedsBody reports whether the body is parsed (schema or sanitizing).
func (r *Rules) NeedsBody() bool { return r.schema != nil || len(r.sanitize) > 0 }

// Check reads the request body (at most the cap) and applies the rules.
// It returns the bytes to forward: the body as received, or re-encoded
// when a sanitized field changed. Every body is buffered, so the upstream
// receives exactly the bytes that were checked, with a Content-Length.
func (r *Rules) Check(req *http.Request) ([]byte, *Problem) {
	if req.ContentLength > r.max {
		return nil, tooLarge(r.max)
	}
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(req.Body, r.max+1))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, tooLarge(r.max)
			}
			return nil, &Problem{Status: http.StatusBadRequest, Detail: "The request body could not be read."}
		}
		if int64(len(b)) > r.max {
			return nil, tooLarge(r.max)
		}
		body = b
	}
	if len(body) > 0 && r.types != nil {
		mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
		if err != nil || !r.types[strings.ToLower(mt)] {
			return nil, &Problem{Status: http.StatusUnsupportedMediaType, Detail: "This route does not accept this content type."}
		}
	}
	if !r.NeedsBody() {
		return body, nil
	}
	return r.checkJSON(body)
}

func tooLarge(n int64) *Problem {
	return &Problem{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("The request body exceeds %d bytes.", n)}
}

// checkJSON parses the one JSON document, validates and sanitizes it.
func (r *Rules) checkJSON(body []byte) ([]byte, *Problem) {
	if len(bytes.TrimSpace(body)) == 0 {
		if r.schema != nil {
			return nil, &Problem{Status: http.StatusUnprocessableEntity, Detail: "The request does not match the route's schema.",
				Errors: []FieldError{{Pointer: "", Detail: "a JSON body is required"}}}
		}
		return body, nil
	}
	if err := strictJSON(body); err != nil {
		return nil, &Problem{Status: http.StatusBadRequest, Detail: "The body is not one valid JSON document: " + err.Error() + "."}
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return nil, &Problem{Status: http.StatusBadRequest, Detail: "The body is not one valid JSON document."}
	}
	if r.schema != nil {
		if err := r.schema.Validate(doc); err != nil {
			return nil, schemaProblem(err)
		}
	}
	changed, errs := r.clean(&doc)
	if len(errs) > 0 {
		return nil, &Problem{Status: http.StatusUnprocessableEntity, Detail: "A rich-text field is not a string.", Errors: errs}
	}
	if !changed {
		return body, nil
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, &Problem{Status: http.StatusBadRequest, Detail: "The body could not be re-encoded."}
	}
	return out, nil
}

// schemaProblem turns the validator's error tree into one error per
// failing leaf.
func schemaProblem(err error) *Problem {
	p := &Problem{Status: http.StatusUnprocessableEntity, Detail: "The request does not match the route's schema."}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		p.Errors = []FieldError{{Pointer: "", Detail: "invalid"}}
		return p
	}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(p.Errors) >= MaxErrors {
			return
		}
		if len(e.Causes) == 0 {
			p.Errors = append(p.Errors, FieldError{Pointer: pointer(e.InstanceLocation), Detail: detail(e)})
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return p
}

func detail(e *jsonschema.ValidationError) string {
	s := e.ErrorKind.LocalizedString(printer)
	if len(s) > maxDetail {
		s = s[:maxDetail] + "…"
	}
	return strings.ToValidUTF8(s, "")
}
