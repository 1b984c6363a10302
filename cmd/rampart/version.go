package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = devVersion

// devVersion is the version of a build made without -X main.version: an
// unreleased build from a checkout.
const devVersion = "dev"

// currentVersion returns version, or the module version when the binary
// was built by `go install …@v1.2.3` without -X main.version.
func currentVersion() string {
	if version != devVersion {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return devVersion
}

// bannerName names this build for people: "Rampart v1.2.3", or "Rampart
// (development build)" for an unreleased one, so the version "dev" is
// never read as dev mode.
func bannerName() string {
	if v := currentVersion(); v != devVersion {
		return "Rampart " + v
	}
	return "Rampart (development build)"
}

// versionString returns the version, the VCS revision when the build has
// one, and the Go version.
func versionString() string {
	rev := ""
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				rev = " (" + s.Value[:12] + ")"
			}
		}
	}
	return fmt.Sprintf("rampart %s%s %s/%s %s", currentVersion(), rev, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), versionString())
			return err
		},
	}
}
