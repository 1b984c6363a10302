package input

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Check applies the rules to req and returns the body to forward, or the
// Problem to answer instead. It reads req.Body once, through the cap; the
// caller forwards the returned bytes (setting req.Body and
// req.ContentLength from them: a sanitized body has another length) and
// must not read req.Body again. Every body is buffered, even on routes
// without a schema, so the cap holds in one place; bodies are small.
//
// Order: a declared Content-Length over the cap is 413 before anything is
// read; a declared body's media type is checked before it is read (415);
// a body of unknown length (chunked) is read through the cap, then typed.
// Bodies on GET or any other method follow the same rules.
func (r *Rules) Check(req *http.Request) ([]byte, *Problem) {
	if req.ContentLength > r.maxBody {
		return nil, tooLarge()
	}
	typed := false
	if req.ContentLength > 0 {
		if p := r.typeProblem(req); p != nil {
			return nil, p
		}
		typed = true
	}
	body, p := r.read(req)
	if p != nil {
		return nil, p
	}
	if len(body) > 0 && !typed {
		if p := r.typeProblem(req); p != nil {
			return nil, p
		}
	}
	if !r.NeedsBody() {
		return body, nil
	}
	return r.checkJSON(body)
}

func (r *Rules) typeProblem(req *http.Request) *Problem {
	if err := r.checkType(req.Header.Values("Content-Type")); err != nil {
		return newProblem(http.StatusUnsupportedMediaType, capitalize(err.Error())+".")
	}
	return nil
}

func tooLarge() *Problem {
	return newProblem(http.StatusRequestEntityTooLarge, "The request body is too large.")
}

// read reads the whole body through a limit of cap+1 bytes: one byte more
// than allowed tells an oversized body from one exactly at the cap
// without reading the rest.
func (r *Rules) read(req *http.Request) ([]byte, *Problem) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	size := 512
	if req.ContentLength > 0 {
		size = int(req.ContentLength) + 1 // ≤ cap+1: checked by Check.
	}
	buf := make([]byte, 0, size)
	lr := io.LimitReader(req.Body, r.maxBody+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, readProblem(err)
		}
	}
	if int64(len(buf)) > r.maxBody {
		return nil, tooLarge()
	}
	return buf, nil
}

// readProblem maps a failed read: an outer http.MaxBytesReader's limit
// is 413, anything else (a broken chunked encoding, a client that went
// away) a 400 without the cause's text.
func readProblem(err error) *Problem {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge()
	}
	return newProblem(http.StatusBadRequest, "The request body could not be read.")
}

// checkJSON parses the body strictly, validates it against the schema and
// sanitizes the pointed-at strings, in that order (the brief's rule): the
// schema judges what the client sent, and its errors point at the client's
// values. Sanitizing only removes markup, so the result keeps the
// document's shape and types; a string the sanitizer shortened may no
// longer meet a minLength or pattern, which the service sees as cleaned
// text, never as script.
func (r *Rules) checkJSON(body []byte) ([]byte, *Problem) {
	if len(body) == 0 {
		if r.schema != nil {
			return nil, &Problem{Status: http.StatusUnprocessableEntity, Title: http.StatusText(http.StatusUnprocessableEntity),
				Detail: "A JSON body is required.", Errors: []FieldError{{Pointer: "", Detail: "a JSON body is required"}}}
		}
		return body, nil
	}
	doc, hits, err := parseDocument(body, r.schema != nil, r.ptrs)
	if err != nil {
		return nil, syntaxProblem(err)
	}
	if r.schema != nil {
		if err := r.schema.Validate(doc); err != nil {
			return nil, schemaProblem(err)
		}
	}
	out, errs := sanitizeHits(body, hits, r.ptrs)
	if len(errs) > 0 {
		return nil, &Problem{Status: http.StatusUnprocessableEntity, Title: http.StatusText(http.StatusUnprocessableEntity),
			Detail: "A field to sanitize is not a string.", Errors: errs}
	}
	return out, nil
}

func syntaxProblem(err error) *Problem {
	var se *syntaxError
	if !errors.As(err, &se) {
		return newProblem(http.StatusBadRequest, "The request body is not valid JSON.")
	}
	return newProblem(http.StatusBadRequest, fmt.Sprintf("The request body is not valid JSON: %s at byte offset %d.", se.msg, se.off))
}

func schemaProblem(err error) *Problem {
	errs, total := fieldErrors(err)
	detail := "The request body does not match the schema."
	if total > len(errs) {
		detail = fmt.Sprintf("The request body does not match the schema (%d errors, the first %d listed).", total, len(errs))
	}
	return &Problem{Status: http.StatusUnprocessableEntity, Title: http.StatusText(http.StatusUnprocessableEntity), Detail: detail, Errors: errs}
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
