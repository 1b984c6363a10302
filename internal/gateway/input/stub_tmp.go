// Package input: TEMPORARY stub of gw-input's API for the lead's build; removed at merge.
package input

import (
	"encoding/json"
	"io"
	"net/http"
)

type Spec struct {
	MaxBodyBytes int64
	ContentTypes []string
	JSONSchema   string
	SanitizeHTML []string
}
type Rules struct{ s Spec }
type FieldError struct {
	Pointer string `json:"pointer"`
	Detail  string `json:"detail"`
}
type Problem struct {
	Status        int
	Title, Detail string
	Errors        []FieldError
}

func Compile(s Spec) (*Rules, error) { return &Rules{s}, nil }
func (r *Rules) NeedsBody() bool     { return false }
func (r *Rules) Check(req *http.Request) ([]byte, *Problem) {
	if req.Body == nil {
		return nil, nil
	}
	b, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	return b, nil
}
func (p *Problem) Write(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": p.Status, "title": p.Title, "errors": p.Errors})
}
