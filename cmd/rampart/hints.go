package main

import (
	"strings"

	"github.com/rampart-auth/rampart/internal/config"
)

// migrateCommand is the command that migrates cfg's database, as the
// operator would type it: with the --config they gave, shell-quoted when
// needed, or none for the dev defaults.
func migrateCommand(cfg *config.Config) string {
	if cfg.File == "" {
		return "rampart migrate"
	}
	return "rampart migrate --config " + shellQuote(cfg.File)
}

// shellQuote returns s as one POSIX shell word.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-:@%+=,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
