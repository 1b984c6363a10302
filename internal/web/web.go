// Package web renders Rampart's pages (login, consent, account, errors)
// from html/template files embedded in the binary, and provides the
// anti-CSRF token the forms carry. Pages load no scripts: the policy is
// default-src 'none' with the embedded stylesheet allowed (OWASP Content
// Security Policy Cheat Sheet, "Strict policy").
package web

import (
	"bytes"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"strings"

	"github.com/rampart-auth/rampart/internal/httpx"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/rampart.css
var stylesheet []byte

var pages = template.Must(template.New("").ParseFS(templateFS, "templates/*.html"))

// StylePath is where the stylesheet is served.
const StylePath = "/static/rampart.css"

// StyleHandler serves the embedded stylesheet.
func StyleHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(stylesheet)
	})
}

// Render writes page name with data. formTargets are extra origins the
// page's forms may end at after redirects (CSP form-action is enforced on
// the redirect chain that follows a submission, so the consent page must
// allow the client's redirect URI origin). The response is never cached:
// it carries a CSRF token and user data.
func Render(w http.ResponseWriter, logger *slog.Logger, status int, name string, data any, formTargets ...string) {
	render(w, logger, status, name, data, "'self'", formTargets)
}

// RenderDataImages is Render for a page with data: images (the TOTP
// enrolment QR code, a PNG made on the server). An image cannot run
// script, and only img-src is widened: scripts stay denied.
func RenderDataImages(w http.ResponseWriter, logger *slog.Logger, status int, name string, data any) {
	render(w, logger, status, name, data, "'self' data:", nil)
}

func render(w http.ResponseWriter, logger *slog.Logger, status int, name string, data any, imgSrc string, formTargets []string) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		if logger != nil {
			logger.Error("web: render", "page", name, "err", err)
		}
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	formAction := "'self'"
	for _, t := range formTargets {
		if t != "" && !strings.ContainsAny(t, " ;,'\"") {
			formAction += " " + t
		}
	}
	httpx.SetCSP(w, "default-src 'none'; style-src 'self'; img-src "+imgSrc+"; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	httpx.SetNoStore(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
