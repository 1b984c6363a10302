#!/usr/bin/env bash
# The test command (README): starts PostgreSQL and Redis if they are down,
# then runs every test with the race detector against them.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/services.sh)"
exec go test -race -count=1 -timeout 20m ./... "$@"
