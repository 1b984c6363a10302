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

// pageFuncs are what every page may call: the branding (brand.go).
var pageFuncs = template.FuncMap{
	"product": func() string { return currentBranding().ProductName },
	"haslogo": func() bool { return len(currentBranding().Logo) > 0 },
}

var pages = template.Must(template.New("").Funcs(pageFuncs).ParseFS(templateFS, "templates/*.html"))

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
	RenderWith(w, logger, status, name, data, Policy{FormTargets: formTargets})
}

// Policy widens a page's Content Security Policy for what it shows.
type Policy struct {
	// FormTargets are extra form-action origins (see Render).
	FormTargets []string
	// ImageSources are extra img-src origins (a client's https logo on
	// the consent page).
	ImageSources []string
}

// cspSource reports whether t is safe to paste into a CSP source list.
func cspSource(t string) bool { return t != "" && !strings.ContainsAny(t, " ;,'\"\n\r\t") }

// RenderDataImages is Render for a page with data: images (the TOTP
// enrolment QR code, a PNG made on the server). An image cannot run
// script, and only img-src is widened: scripts stay denied.
func RenderDataImages(w http.ResponseWriter, logger *slog.Logger, status int, name string, data any) {
	RenderWith(w, logger, status, name, data, Policy{ImageSources: []string{"data:"}})
}

// RenderWith is Render with a page-specific policy.
func RenderWith(w http.ResponseWriter, logger *slog.Logger, status int, name string, data any, p Policy) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		if logger != nil {
			logger.Error("web: render", "page", name, "err", err)
		}
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	formAction := "'self'"
	for _, t := range p.FormTargets {
		if cspSource(t) {
			formAction += " " + t
		}
	}
	imgSrc := "'self'"
	for _, t := range p.ImageSources {
		if cspSource(t) {
			imgSrc += " " + t
		}
	}
	httpx.SetCSP(w, "default-src 'none'; style-src 'self'; img-src "+imgSrc+"; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	httpx.SetNoStore(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
