# The two commands of the README:
#   make run    (go run ./cmd/rampart serve)  runs Rampart in dev mode
#   make test   runs every test against real PostgreSQL and Redis
# and the developer gates, also run by .ci/run:
#   make lint   gofmt, go vet, staticcheck, gosec (PKG=./internal/config/... for one package)
#   make fuzz   every fuzz target for FUZZTIME each (FUZZTIME=30s make fuzz)
.PHONY: run test build lint fuzz ci

PKG ?= ./...
FUZZTIME ?= 8s

run:
	go run ./cmd/rampart serve

test:
	scripts/test.sh

build:
	go build -trimpath -o bin/rampart ./cmd/rampart

lint:
	scripts/lint.sh $(PKG)

fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh $(PKG)

ci:
	.ci/run
