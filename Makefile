# sessionkit: `make test` installs the servers the store tests need (as root,
# from Debian's packages), then runs vet, gofmt, the race detector over every
# package against real servers, a short fuzz pass, and the browser test.

SHELL := /bin/bash
GO ?= go
FUZZTIME ?= 10s
# Under CI a missing server is a failure, not a skip.
export SESSIONKIT_REQUIRE_SERVERS ?= $(if $(CI),1,)

APT_PACKAGES := redis-server redis-tools redis-sentinel memcached chromium
NEEDED_BINARIES := redis-server redis-cli memcached chromium

.PHONY: test deps vet fmt race fuzz e2e bench demo

test: deps vet fmt race fuzz e2e

# deps installs what is missing. Without root it says what to install.
deps:
	@missing=""; for b in $(NEEDED_BINARIES); do command -v $$b >/dev/null || missing="$$missing $$b"; done; \
	if [ -z "$$missing" ]; then echo "deps: all servers present"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "deps: installing $(APT_PACKAGES) (missing:$$missing)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null; \
	else \
		echo "deps: missing$$missing; run: sudo apt-get install -y $(APT_PACKAGES)"; \
		[ -z "$$SESSIONKIT_REQUIRE_SERVERS" ] || exit 1; \
	fi

vet:
	$(GO) vet ./...
	cd e2e && $(GO) vet ./...

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

race:
	$(GO) test -race -count=1 -timeout 15m ./...

# A short pass of every fuzz target in the module (go test fuzzes one
# target of one package at a time).
fuzz:
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' . | grep -v '^./e2e/'); do \
		pkg=./$$(dirname $$f); \
		for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "fuzz $$pkg $$t ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

e2e:
	cd e2e && $(GO) test -count=1 -timeout 10m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./... | tee bench.txt

demo:
	$(GO) run ./cmd/sessiondemo
