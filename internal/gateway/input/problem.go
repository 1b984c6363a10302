package input

import (
	"encoding/json"
	"net/http"

	"github.com/rampart-auth/rampart/internal/httpx"
)

// Problem is a refusal of a request's input, rendered by Write as an
// RFC 9457 problem. Title and Detail are safe for the client: they never
// echo large parts of the input nor name files or internals.
type Problem struct {
	Status int
	Title  string
	Detail string
	Errors []FieldError
}

// FieldError names one invalid value of a JSON body: Pointer is its
// RFC 6901 location ("" for the whole document), Detail a short message.
type FieldError struct {
	Pointer string `json:"pointer"`
	Detail  string `json:"detail"`
}

// problemBody is the wire form: RFC 9457 §3.1 members, errors an
// extension member (§3.2) present only when set.
type problemBody struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Errors []FieldError `json:"errors,omitempty"`
}

// Write answers the problem as application/problem+json with type
// "about:blank" (RFC 9457 §4.2.1), marked no-store and nosniff. A 413 also
// asks for the connection to be closed: the unread rest of the body is
// not drained (as httpx.LimitBody does).
func (p *Problem) Write(w http.ResponseWriter) {
	status := p.Status
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	title := p.Title
	if title == "" {
		title = http.StatusText(status)
	}
	body, err := json.Marshal(problemBody{Type: "about:blank", Title: title, Status: status, Detail: p.Detail, Errors: p.Errors})
	if err != nil {
		// Strings and an int only: cannot happen.
		body = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500}`)
		status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", httpx.ContentTypeProblem)
	h.Set("X-Content-Type-Options", "nosniff")
	httpx.SetNoStore(w)
	if status == http.StatusRequestEntityTooLarge {
		h.Set("Connection", "close")
	}
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

func newProblem(status int, detail string) *Problem {
	return &Problem{Status: status, Title: http.StatusText(status), Detail: detail}
}
