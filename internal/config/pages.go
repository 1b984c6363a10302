package config

import (
	"path/filepath"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// LogoTypes are the accepted ui.logo_file extensions and the content type
// each is served with.
var LogoTypes = map[string]string{
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp", ".svg": "image/svg+xml",
}

// MaxLogoBytes bounds ui.logo_file (it is held in memory and served on
// every page).
const MaxLogoBytes = 256 << 10

// printableText reports whether s is valid UTF-8 without control
// characters and at most max bytes: text a page shows as is.
func printableText(s string, max int) bool {
	return len(s) <= max && utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

// validatePages checks oauth.scopes and ui.
func (c *Config) validatePages(bad func(string, string, ...any)) {
	ids := make([]string, 0, len(c.OAuth.Scopes))
	for id := range c.OAuth.Scopes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if !ValidScopeToken(id) {
			bad("oauth.scopes", "%q is not a scope (RFC 6749 §3.3 scope-token)", id)
		}
		if d := c.OAuth.Scopes[id]; d == "" || !printableText(d, 200) {
			bad("oauth.scopes."+id, "describe the scope in 1 to 200 bytes of printable text")
		}
	}
	if !printableText(c.UI.ProductName, 64) {
		bad("ui.product_name", "use at most 64 bytes of printable text")
	}
	if f := c.UI.LogoFile; f != "" {
		if _, ok := LogoTypes[strings.ToLower(filepath.Ext(f))]; !ok {
			bad("ui.logo_file", "%q: use a .png, .jpg, .gif, .webp or .svg file", f)
		}
	}
}
