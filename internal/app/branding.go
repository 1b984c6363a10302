package app

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/web"
)

// loadBranding reads ui.logo_file (at most config.MaxLogoBytes) for the
// pages' header; the product name is taken as configured (validated).
func loadBranding(ui config.UI) (web.Branding, error) {
	b := web.Branding{ProductName: ui.ProductName}
	if ui.LogoFile == "" {
		return b, nil
	}
	f, err := os.Open(ui.LogoFile)
	if err != nil {
		return b, fmt.Errorf("app: ui.logo_file: %w", err)
	}
	defer f.Close()
	logo, err := io.ReadAll(io.LimitReader(f, config.MaxLogoBytes+1))
	if err != nil {
		return b, fmt.Errorf("app: ui.logo_file: %w", err)
	}
	if len(logo) > config.MaxLogoBytes {
		return b, fmt.Errorf("app: ui.logo_file %s is larger than %d KiB; use a smaller image", ui.LogoFile, config.MaxLogoBytes>>10)
	}
	b.Logo, b.LogoType = logo, config.LogoTypes[strings.ToLower(filepath.Ext(ui.LogoFile))]
	return b, nil
}
