package adminapi

import "github.com/rampart-auth/rampart/internal/httpx"

// checkJSONObject accepts exactly one JSON object without duplicate
// members (httpx.CheckJSONObject, shared with the secrets API).
func checkJSONObject(body []byte) error { return httpx.CheckJSONObject(body) }
