package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// maxAPIAnswer bounds an answer a JSON API client reads (a full page of
// audit records is a few hundred KiB; a secret value at most 64 KiB).
const maxAPIAnswer = 8 << 20

// APIError is a refusal of one of Rampart's JSON APIs (the admin API, the
// secrets API): its status and problem+json title and detail, which never
// carry a value.
type APIError struct {
	Status int
	Title  string
	Detail string
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("the server answered %d %s", e.Status, e.Title)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// CallJSON is the client side of Rampart's JSON APIs, shared by the CLI's
// admin and secrets clients: it sends method url with in as the JSON body
// (nil: none) and, when token is set, `Authorization: Bearer token`; a
// status of 300 or more is an *APIError from the problem document; a
// success is decoded into out (nil, or 204: ignored). api names the API
// in errors. No error quotes the answer (it may hold a value).
func CallJSON(ctx context.Context, hc *http.Client, method, url, token string, in, out any, api string) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		// The error names the URL (a path, never a value).
		return fmt.Errorf("cannot reach the %s: %w", api, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIAnswer))
	if err != nil {
		return fmt.Errorf("reading the %s's answer: %w", api, err)
	}
	if resp.StatusCode >= 300 {
		var p struct{ Title, Detail string }
		_ = json.Unmarshal(b, &p)
		if p.Title == "" {
			p.Title = http.StatusText(resp.StatusCode)
		}
		return &APIError{Status: resp.StatusCode, Title: p.Title, Detail: p.Detail}
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		// Not the decoder's message: it may quote the answer.
		return errors.New("the " + api + "'s answer is not what this client expects")
	}
	return nil
}
