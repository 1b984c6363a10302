package web

import (
	_ "embed"
	"net/http"
	"sync/atomic"

	"github.com/rampart-auth/rampart/internal/httpx"
)

//go:embed static/favicon.ico
var favicon []byte

// Paths of the favicon and the configured logo.
const (
	FaviconPath = "/favicon.ico"
	LogoPath    = "/static/logo"
)

// DefaultProductName is the name pages show when ui.product_name is unset.
const DefaultProductName = "Rampart"

// Branding is what every page shows of the deployment: a product name
// and an optional logo (ui.product_name, ui.logo_file).
type Branding struct {
	ProductName string
	Logo        []byte // the logo file's bytes; nil for none
	LogoType    string // its content type (config.LogoTypes)
}

var branding atomic.Pointer[Branding]

// SetBranding sets the product name and logo of every page. The server
// calls it once at start, before serving; pages render with the default
// name until then.
func SetBranding(b Branding) {
	if b.ProductName == "" {
		b.ProductName = DefaultProductName
	}
	branding.Store(&b)
}

func currentBranding() *Branding {
	if b := branding.Load(); b != nil {
		return b
	}
	return &Branding{ProductName: DefaultProductName}
}

// FaviconHandler serves the embedded favicon.
func FaviconHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "image/x-icon")
		w.Header().Set("Cache-Control", "public, max-age=86400")
		_, _ = w.Write(favicon)
	})
}

// LogoHandler serves the configured logo (404 without one). It is
// served with a sandboxing policy that allows nothing to run: an SVG
// logo opened directly (not through <img>, where scripts never run)
// cannot execute script in Rampart's origin (OWASP XSS Prevention Cheat
// Sheet on SVG; CSP sandbox, W3C CSP3 §6.3.2).
func LogoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := currentBranding()
		if len(b.Logo) == 0 {
			http.NotFound(w, r)
			return
		}
		httpx.SetCSP(w, "default-src 'none'; style-src 'unsafe-inline'; sandbox")
		w.Header().Set("Content-Type", b.LogoType)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(b.Logo)
	})
}
