#!/usr/bin/env bash
# The lint gate (make lint, .ci/run): gofmt, go vet, staticcheck and gosec
# over the given packages (default ./...). Missing linters are installed at
# the pinned versions below, the only place they are named.
# Usage: scripts/lint.sh [PACKAGES...]      e.g. scripts/lint.sh ./internal/config/...
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(go env GOPATH)/bin:$PATH"
STATICCHECK_VERSION=v0.8.2   # honnef.co/go/tools 2026.1-era release supporting Go 1.26
GOSEC_VERSION=v2.30.0

[ "$#" -gt 0 ] || set -- ./...

step() { printf '\n=== %s\n' "$*"; }
need() { # need TOOL MODULE@VERSION
  command -v "$1" >/dev/null && return
  echo "lint: installing $2" >&2
  go install "$2"
}
need staticcheck "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}"
need gosec "github.com/securego/gosec/v2/cmd/gosec@${GOSEC_VERSION}"

step "gofmt"
if [ "$*" = "./..." ] && git rev-parse --git-dir >/dev/null 2>&1; then
  files=$(git ls-files '*.go')   # every Go file, whatever its build tags
else
  files=$(go list -f '{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}} {{end}}{{range .TestGoFiles}}{{$d}}/{{.}} {{end}}{{range .XTestGoFiles}}{{$d}}/{{.}} {{end}}' "$@")
fi
# shellcheck disable=SC2086 # one word per file on purpose
unformatted=$(gofmt -l $files)
if [ -n "$unformatted" ]; then
  echo "gofmt would change (run gofmt -w on them):"
  echo "$unformatted"
  exit 1
fi

step "go vet"
go vet "$@"

step "staticcheck"
staticcheck "$@"

step "gosec"
gosec -quiet -fmt text "$@"

step "lint OK"
