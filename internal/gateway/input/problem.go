package input

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// FieldError is one failing location of a 422 answer.
type FieldError struct {
	Pointer string `json:"pointer"`
	Detail  string `json:"detail"`
}

// Problem is a refusal, written as RFC 9457 problem details.
type Problem struct {
	Status        int
	Title, Detail string
	Errors        []FieldError
}

// Write answers the problem as application/problem+json.
func (p *Problem) Write(w http.ResponseWriter) {
	title := p.Title
	if title == "" {
		title = http.StatusText(p.Status)
	}
	body, err := json.Marshal(struct {
		Type   string       `json:"type"`
		Title  string       `json:"title"`
		Status int          `json:"status"`
		Detail string       `json:"detail,omitempty"`
		Errors []FieldError `json:"errors,omitempty"`
	}{"about:blank", title, p.Status, p.Detail, p.Errors})
	if err != nil {
		body = []byte(`{"type":"about:blank","status":` + strconv.Itoa(p.Status) + `}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
}
