# The two commands of the README:
#   make run    (go run ./cmd/rampart serve)  runs Rampart in dev mode
#   make test   runs every test against real PostgreSQL and Redis
.PHONY: run test build lint fuzz ci

run:
	go run ./cmd/rampart serve

test:
	scripts/test.sh

build:
	go build -trimpath -o bin/rampart ./cmd/rampart

ci:
	.ci/run
