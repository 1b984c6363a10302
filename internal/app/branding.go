package app

import (
	"path/filepath"
	"strings"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/web"
)

// branding is the pages' product name and logo: ui.product_name as
// configured (validated) and ui.logo_file as Resolve read it (bounded,
// checked by `config check` too).
func branding(ui config.UI, res *config.Resolved) web.Branding {
	b := web.Branding{ProductName: ui.ProductName}
	if res != nil && len(res.Logo) > 0 {
		b.Logo, b.LogoType = res.Logo, config.LogoTypes[strings.ToLower(filepath.Ext(ui.LogoFile))]
	}
	return b
}
