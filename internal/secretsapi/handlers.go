package secretsapi

import (
	"encoding/base64"
	"errors"
	"maps"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/rampart-auth/rampart/internal/secrets"
)

// The JSON documents of the API (docs/secrets.md), exported for
// internal/secretsclient and the CLI's --json output. Times are RFC 3339
// in UTC.

// SecretDoc is a read: GET data/{path}.
type SecretDoc struct {
	Path        string            `json:"path"`
	Version     int64             `json:"version"`
	Labels      []string          `json:"labels"`
	Value       *string           `json:"value,omitempty"`
	ValueBase64 *string           `json:"value_base64,omitempty"`
	Metadata    map[string]string `json:"metadata"`
	CreatedAt   time.Time         `json:"created_at"`
}

// PutRequest is the body of PUT data/{path}: exactly one of Value and ValueBase64.
type PutRequest struct {
	Value       *string           `json:"value"`
	ValueBase64 *string           `json:"value_base64"`
	CAS         *int64            `json:"cas"`
	Labels      []string          `json:"labels"`
	Metadata    map[string]string `json:"metadata"`
}

// WrittenDoc is the answer of a write.
type WrittenDoc struct {
	Path      string    `json:"path"`
	Version   int64     `json:"version"`
	Labels    []string  `json:"labels"`
	CreatedAt time.Time `json:"created_at"`
}

// VersionDoc describes one version (no value).
type VersionDoc struct {
	Version   int64      `json:"version"`
	Labels    []string   `json:"labels"`
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by"`
	DeletedAt *time.Time `json:"deleted_at,omitempty"`
	Destroyed bool       `json:"destroyed"`
}

// MetadataDoc is GET metadata/{path}.
type MetadataDoc struct {
	Path           string            `json:"path"`
	CurrentVersion int64             `json:"current_version"`
	Labels         map[string]int64  `json:"labels"`
	Metadata       map[string]string `json:"metadata"`
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
	Versions       []VersionDoc      `json:"versions"`
}

// ListEntry is one secret of a list.
type ListEntry struct {
	Path           string           `json:"path"`
	CurrentVersion int64            `json:"current_version"`
	Labels         map[string]int64 `json:"labels"`
	UpdatedAt      time.Time        `json:"updated_at"`
}

// ListDoc is GET list/{prefix}.
type ListDoc struct {
	Secrets []ListEntry `json:"secrets"`
}

// LabelRequest is the body of PUT labels/{path}.
type LabelRequest struct {
	Label   string `json:"label"`
	Version int64  `json:"version"`
	Expect  *int64 `json:"expect"`
}

// LabelDoc is the answer of PUT labels/{path}.
type LabelDoc struct {
	Path    string `json:"path"`
	Label   string `json:"label"`
	Version int64  `json:"version"`
}

// VersionsRequest is the body of POST delete|undelete|destroy/{path}.
type VersionsRequest struct {
	Versions []int64 `json:"versions"`
}

// DocOfSecret is the answer of a read: the value as "value" when it is
// valid UTF-8, else as "value_base64" (standard base64). This is the one
// place a value leaves as bytes for a client (the HTTP answer, and the
// CLI's --json): callers wipe nothing else.
func DocOfSecret(s secrets.Secret) SecretDoc {
	doc := SecretDoc{Path: string(s.Path), Version: s.Version, Labels: labelsOrEmpty(s.Labels), Metadata: s.Metadata, CreatedAt: s.CreatedAt.UTC()}
	if doc.Metadata == nil {
		doc.Metadata = map[string]string{}
	}
	b := s.Value.Bytes()
	if utf8.Valid(b) {
		str := string(b)
		doc.Value = &str
	} else {
		enc := base64.StdEncoding.EncodeToString(b)
		doc.ValueBase64 = &enc
	}
	clear(b)
	return doc
}

// Bytes returns the value of a read answer.
func (d SecretDoc) Bytes() ([]byte, error) {
	switch {
	case d.Value != nil && d.ValueBase64 == nil:
		return []byte(*d.Value), nil
	case d.ValueBase64 != nil && d.Value == nil:
		return base64.StdEncoding.Strict().DecodeString(*d.ValueBase64)
	}
	return nil, errors.New("secretsapi: the answer holds neither or both of value and value_base64")
}

// DocOfWritten is the answer of a write.
func DocOfWritten(path secrets.Path, info secrets.VersionInfo) WrittenDoc {
	return WrittenDoc{Path: string(path), Version: info.Version, Labels: labelsOrEmpty(info.Labels), CreatedAt: info.CreatedAt.UTC()}
}

// DocOfMeta is the answer of a metadata read.
func DocOfMeta(meta secrets.Meta, vs []secrets.VersionInfo) MetadataDoc {
	doc := MetadataDoc{Path: string(meta.Path), CurrentVersion: meta.CurrentVersion, Labels: labelMap(meta.Labels), Metadata: meta.Metadata,
		CreatedAt: meta.CreatedAt.UTC(), UpdatedAt: meta.UpdatedAt.UTC(), Versions: make([]VersionDoc, len(vs))}
	if doc.Metadata == nil {
		doc.Metadata = map[string]string{}
	}
	for i, v := range vs {
		d := VersionDoc{Version: v.Version, Labels: labelsOrEmpty(v.Labels), CreatedAt: v.CreatedAt.UTC(), CreatedBy: v.CreatedBy, Destroyed: v.Destroyed}
		if !v.DeletedAt.IsZero() {
			t := v.DeletedAt.UTC()
			d.DeletedAt = &t
		}
		doc.Versions[i] = d
	}
	return doc
}

// DocOfList is the answer of a list.
func DocOfList(metas []secrets.Meta) ListDoc {
	doc := ListDoc{Secrets: make([]ListEntry, len(metas))}
	for i, m := range metas {
		doc.Secrets[i] = ListEntry{Path: string(m.Path), CurrentVersion: m.CurrentVersion, Labels: labelMap(m.Labels), UpdatedAt: m.UpdatedAt.UTC()}
	}
	return doc
}

func labelsOrEmpty(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func labelMap(m map[string]int64) map[string]int64 {
	if m == nil {
		return map[string]int64{}
	}
	return maps.Clone(m)
}

// getData: GET data/{path}[?version=N|?label=L].
func (a *API) getData(w http.ResponseWriter, r *http.Request, p secrets.Principal, t target) (int, any, error) {
	path := t.path
	q, err := query(r, "version", "label")
	if err != nil {
		return 0, nil, err
	}
	var sel secrets.Selector
	v, err := queryInt(q, "version")
	if err != nil {
		return 0, nil, err
	}
	if v != nil {
		if *v == 0 {
			return 0, nil, badRequest("a version number is positive")
		}
		sel.Version = *v
	}
	if l, ok := q["label"]; ok {
		sel.Label = l[0]
		if sel.Label == "" {
			return 0, nil, badRequest("the label is empty")
		}
	}
	s, err := a.o.Secrets.Get(r.Context(), p, path, sel)
	if err != nil {
		return 0, nil, err
	}
	doc := DocOfSecret(s)
	return http.StatusOK, doc, nil
}

// putData: PUT data/{path}.
func (a *API) putData(w http.ResponseWriter, r *http.Request, p secrets.Principal, t target) (int, any, error) {
	path := t.path
	var body PutRequest
	if err := DecodeBody(w, r, &body, false); err != nil {
		return 0, nil, err
	}
	v, err := body.value()
	if err != nil {
		return 0, nil, err
	}
	info, err := a.o.Secrets.Put(r.Context(), p, path, v, secrets.PutOptions{CAS: body.CAS, Labels: body.Labels, Metadata: body.Metadata})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, DocOfWritten(path, info), nil
}

// value returns the body's value: exactly one of value (UTF-8 text) and
// value_base64 (standard base64, RFC 4648 §4, padded, strict).
func (b PutRequest) value() (secrets.Value, error) {
	switch {
	case b.Value != nil && b.ValueBase64 != nil:
		return secrets.Value{}, badRequest("give exactly one of value and value_base64")
	case b.Value != nil:
		return secrets.NewValue([]byte(*b.Value)), nil
	case b.ValueBase64 != nil:
		raw, err := base64.StdEncoding.Strict().DecodeString(*b.ValueBase64)
		if err != nil {
			return secrets.Value{}, badRequest("value_base64 is not standard base64")
		}
		v := secrets.NewValue(raw)
		clear(raw)
		return v, nil
	default:
		return secrets.Value{}, badRequest("give exactly one of value and value_base64")
	}
}

// getMetadata: GET metadata/{path}.
func (a *API) getMetadata(w http.ResponseWriter, r *http.Request, p secrets.Principal, t target) (int, any, error) {
	path := t.path
	if _, err := query(r); err != nil {
		return 0, nil, err
	}
	meta, vs, err := a.o.Secrets.Versions(r.Context(), p, path)
	if err != nil {
		return 0, nil, err
	}
	doc := DocOfMeta(meta, vs)
	return http.StatusOK, doc, nil
}

// list: GET list/{prefix} and GET list/.
func (a *API) list(w http.ResponseWriter, r *http.Request, p secrets.Principal, t target) (int, any, error) {
	prefix := t.prefix
	if _, err := query(r); err != nil {
		return 0, nil, err
	}
	metas, err := a.o.Secrets.List(r.Context(), p, prefix)
	if err != nil {
		return 0, nil, err
	}
	doc := DocOfList(metas)
	return http.StatusOK, doc, nil
}

// putLabel: PUT labels/{path} {"label","version","expect"?}.
func (a *API) putLabel(w http.ResponseWriter, r *http.Request, p secrets.Principal, t target) (int, any, error) {
	path := t.path
	var body LabelRequest
	if err := DecodeBody(w, r, &body, false); err != nil {
		return 0, nil, err
	}
	if err := a.o.Secrets.MoveLabel(r.Context(), p, path, body.Label, body.Version, body.Expect); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, LabelDoc{Path: string(path), Label: body.Label, Version: body.Version}, nil
}

// deleteLabel: DELETE labels/{path}?label=L[&expect=N].
func (a *API) deleteLabel(w http.ResponseWriter, r *http.Request, p secrets.Principal, t target) (int, any, error) {
	path := t.path
	q, err := query(r, "label", "expect")
	if err != nil {
		return 0, nil, err
	}
	label := q.Get("label")
	if label == "" {
		return 0, nil, badRequest("query parameter \"label\" is required")
	}
	expect, err := queryInt(q, "expect")
	if err != nil {
		return 0, nil, err
	}
	if err := a.o.Secrets.RemoveLabel(r.Context(), p, path, label, expect); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// versionsOp runs a delete, undelete or destroy with {"versions":[..]}.
func (a *API) versionsOp(w http.ResponseWriter, r *http.Request, t target, run func(path secrets.Path, vs []int64) error) (int, any, error) {
	path := t.path
	var body VersionsRequest
	if err := DecodeBody(w, r, &body, false); err != nil {
		return 0, nil, err
	}
	if err := run(path, body.Versions); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// deleteVersions: POST delete/{path} (no versions: the current one).
func (a *API) deleteVersions(w http.ResponseWriter, r *http.Request, p secrets.Principal, t target) (int, any, error) {
	return a.versionsOp(w, r, t, func(path secrets.Path, vs []int64) error { return a.o.Secrets.Delete(r.Context(), p, path, vs) })
}

// undeleteVersions: POST undelete/{path} (no versions: the current one).
func (a *API) undeleteVersions(w http.ResponseWriter, r *http.Request, p secrets.Principal, t target) (int, any, error) {
	return a.versionsOp(w, r, t, func(path secrets.Path, vs []int64) error { return a.o.Secrets.Undelete(r.Context(), p, path, vs) })
}

// destroyVersions: POST destroy/{path} (no versions: the whole secret).
func (a *API) destroyVersions(w http.ResponseWriter, r *http.Request, p secrets.Principal, t target) (int, any, error) {
	return a.versionsOp(w, r, t, func(path secrets.Path, vs []int64) error { return a.o.Secrets.Destroy(r.Context(), p, path, vs) })
}
