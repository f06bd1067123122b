# sessionkit: `make test` installs the servers the store tests need (as root,
# from Debian's packages; Valkey 8.1 from Debian 13's, into the user's cache
# directory), then runs vet, gofmt, the race detector over every
# package against real servers, a short fuzz pass, and the browser test.

SHELL := /bin/bash
GO ?= go
# A count, not a duration: with a duration, Go 1.26's fuzz coordinator can
# report "context deadline exceeded" as a failure when the time runs out
# while a worker is busy (golang/go#75804, fixed in Go 1.27). 20000 runs take
# 5-10 s a target on two cores.
FUZZTIME ?= 20000x
# Under CI a missing server is a failure, not a skip.
export SESSIONKIT_REQUIRE_SERVERS ?= $(if $(CI),1,)

APT_PACKAGES := redis-server memcached chromium postgresql
NEEDED_BINARIES := redis-server memcached chromium
# PostgreSQL's server binaries are not on PATH (Debian keeps them under
# /usr/lib/postgresql/<version>/bin); initdb stands for the package.
NEEDED_FILES := /usr/lib/postgresql/*/bin/initdb

.PHONY: test deps vet fmt ferretdb race dates fuzz e2e bench bench-peers bench-http bench-scale soak demo

# test runs the stages in this order, stops at the first that fails, and
# says how long each took and the whole run, so that every CI log shows
# where the time goes.
TEST_STAGES := deps vet fmt ferretdb race dates fuzz e2e
test:
	@start=$$(date +%s); for stage in $(TEST_STAGES); do \
		t0=$$(date +%s); \
		$(MAKE) --no-print-directory $$stage || { echo "make test: $$stage failed after $$(( $$(date +%s) - t0 ))s"; exit 1; }; \
		echo "make test: $$stage took $$(( $$(date +%s) - t0 ))s"; \
	done; \
	echo "make test: all stages took $$(( $$(date +%s) - start ))s"

# The network steps of deps are tried three times, 10 s apart: on a fresh
# machine one transient error (a mirror's or the proxy's hiccup, a DNS
# timeout) would otherwise fail the whole run. apt-get update only warns
# about an index it could not fetch, so update and install are retried
# together; apt waits up to 5 minutes for the dpkg lock that a fresh
# machine's unattended-upgrades may hold. npm ci starts from an empty
# node_modules, and go mod download resumes, so both are safe to repeat.
RETRY := retry() { for try in 1 2 3; do "$$@" && return 0; [ $$try = 3 ] || { echo "deps: failed (try $$try of 3), again in 10s: $$*" >&2; sleep 10; }; done; return 1; };
APT_GET := apt-get -o Acquire::Retries=3 -o DPkg::Lock::Timeout=300

# deps installs what is missing. Without root it says what to install.
deps:
	@missing=""; for b in $(NEEDED_BINARIES); do command -v $$b >/dev/null || missing="$$missing $$b"; done; \
	for f in $(NEEDED_FILES); do [ -e "$$f" ] || missing="$$missing $$f"; done; \
	if [ -z "$$missing" ]; then echo "deps: all servers present"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "deps: installing $(APT_PACKAGES) (missing:$$missing)"; \
		export DEBIAN_FRONTEND=noninteractive; $(RETRY) \
		retry sh -c '$(APT_GET) update -qq && $(APT_GET) install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null'; \
	else \
		echo "deps: missing$$missing; run: sudo apt-get install -y $(APT_PACKAGES)"; \
		[ "$$SESSIONKIT_REQUIRE_SERVERS" != 1 ] || exit 1; \
	fi
	@# node and npm for the express peer (interop/). Not in APT_PACKAGES: a
	@# NodeSource nodejs conflicts with Debian's npm and would sink the whole install.
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then export DEBIAN_FRONTEND=noninteractive; $(RETRY) \
			retry sh -c '$(APT_GET) update -qq && $(APT_GET) install -y -qq nodejs npm >/dev/null'; \
		else echo "deps: missing node/npm; run: sudo apt-get install -y nodejs npm"; [ "$$SESSIONKIT_REQUIRE_SERVERS" != 1 ] || exit 1; fi; \
	fi
	@[ interop/peer/node_modules/.package-lock.json -nt interop/peer/package-lock.json ] || { $(RETRY) cd interop/peer && retry npm ci --no-audit --no-fund; }
	@# The Go modules of every module here (FerretDB's too), fetched now
	@# with retries rather than by the first go vet or go test, which
	@# would fail on one transient error of the module proxy.
	@$(RETRY) for m in $(MODULES) internal/ferretdb; do (cd $$m && retry $(GO) mod download) || exit 1; done
	@# valkey-server 8.1 (SET IFEQ) for redisstore's native compare-and-set:
	@# Debian 13's package and libraries, unpacked into the user's cache
	@# directory (Debian 12 has no such server). No root needed.
	@bash internal/testserver/fetch-valkey.sh || { echo "deps: no valkey-server 8.1; the Valkey tests will skip"; [ "$$SESSIONKIT_REQUIRE_SERVERS" != 1 ]; }

# The other modules: e2e (chromedp) and bench (the peer libraries) keep
# their dependencies out of the library's module.
MODULES := . e2e bench

vet:
	@set -e; for m in $(MODULES); do (cd $$m && echo "vet $$m" && $(GO) vet ./...); done

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# ferretdb builds the MongoDB test server (internal/ferretdb, its own module)
# into the user's cache directory once, before the race pass, so that the
# test binaries do not wait on the build under their timeout. A cold build
# takes about a minute on two cores; an unchanged one is reused.
ferretdb:
	$(GO) test -count=1 -run '^TestSharedMongoGivesEachTestItsOwnDatabase$$' ./internal/testserver

# The packages that take longest under the race detector (100-160 s each
# on two cores), named before ./... so that go test, which starts packages
# in the order given, -p (GOMAXPROCS) at a time, starts them first and the
# short ones fill in around them; in ./...'s alphabetical order one of them
# started last and ran on alone. A package missing here only runs later.
RACE_FIRST := ./internal/faults ./interop ./redisstore ./mongostore ./pgstore ./storeurl
race:
	$(GO) test -race -count=1 -timeout 15m $(RACE_FIRST) ./...
	cd bench && $(GO) test -race -count=1 ./...

# The packages whose tests pin a date (internal/testclock), run as if a year
# earlier and a year later: a test that mixes the pinned date with the real
# clock fails here, whatever today's date.
DATED_PACKAGES := . ./memstore ./boltstore
dates:
	@set -e; for epoch in 2025-11-22T09:59:00Z 2027-11-22T09:59:00Z; do \
		echo "dates: SESSIONKIT_TEST_EPOCH=$$epoch"; \
		SESSIONKIT_TEST_EPOCH=$$epoch $(GO) test -count=1 $(DATED_PACKAGES); \
	done

# A short pass of every fuzz target in the module (go test fuzzes one
# target of one package at a time). Each package's fuzz-instrumented test
# binary is built once (go test -c -fuzz) and run for each of its targets
# as go test -fuzz runs it: in the package's directory (failing inputs go
# to its testdata/fuzz), on go test's corpus cache, with its flags. A go
# test -fuzz per target linked the binary again every time.
fuzz:
	@set -e; bin=$$(mktemp -d); trap 'rm -rf "$$bin"' EXIT; \
	cache=$$($(GO) env GOCACHE)/fuzz; \
	for pkg in $$(grep -rl --include='*_test.go' '^func Fuzz' . | grep -v '^./e2e/' | xargs -n1 dirname | sort -u); do \
		path=$$(cd $$pkg && $(GO) list .); \
		$(GO) test -c -fuzz=. -o "$$bin/fuzz.test" $$pkg; \
		for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$pkg/*_test.go); do \
			echo "fuzz $$pkg $$t ($(FUZZTIME))"; t0=$$(date +%s); \
			(cd $$pkg && "$$bin/fuzz.test" -test.paniconexit0 -test.fuzzcachedir="$$cache/$$path" -test.timeout=10m0s \
				-test.run='^$$' -test.fuzz="^$$t\$$" -test.fuzztime=$(FUZZTIME)); \
			echo "ok  	$$path	$$t	$$(( $$(date +%s) - t0 ))s"; \
		done; \
	done

e2e:
	cd e2e && $(GO) test -count=1 -timeout 10m ./...

# bench: the library's own benchmarks; bench-peers: against scs and gorilla/sessions.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./... | tee bench.txt

bench-peers:
	cd bench && $(GO) test -run '^$$' -bench . -benchmem -count 6 | tee ../bench-peers.txt

# bench-http: the HTTP load benchmark (bench/httpload_test.go): real servers
# over loopback, req/s and p50/p99 per server, each with its ratio to its
# store's limit, and a bar chart of them in docs/bench-http.svg. The load
# comes from wrk (Debian's package, installed here when root), in a process
# of its own; without it, from a Go load generator in the test's process.
# About 9 minutes with the default 3 rounds, 15 with -httpload.rounds 5;
# not part of make test. HTTPLOAD_FLAGS='-httpload.pin 0:1'
# gives wrk CPU 1 and the servers CPU 0; -httpload.only picks servers;
# -httpload.burn sets the CPU times of the yardstick servers (3us,6us).
HTTPLOAD_FLAGS ?= -httpload.duration 3s -httpload.rounds 3
bench-http: deps
	@command -v wrk >/dev/null || [ "$$(id -u)" != 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null || true
	@command -v wrk >/dev/null || echo "bench-http: no wrk (apt-get install wrk): the Go load generator drives the servers"
	cd bench && $(GO) test -count=1 -timeout 40m -run '^TestHTTPLoad$$' -v . -httpload -httpload.wrk "$$(command -v wrk)" -httpload.plot ../docs/bench-http.svg $(HTTPLOAD_FLAGS) | grep -v '^redis: ' | tee ../bench-http.txt

# bench-scale: cost as the work grows (bench/scale_test.go): memstore,
# boltstore, redisstore, pgstore and memcachedstore filled with 10k and 100k
# live sessions (memstore also 1M; mongostore, on FerretDB, 10k, 50k and
# 100k: -scale.mongosizes); per-request latency through the middleware, bytes
# per session, Count, IDs and PurgeExpired. About 10 minutes (5 of them
# FerretDB's); not part of make test.
SCALE_FLAGS ?=
bench-scale: deps
	cd bench && $(GO) test -count=1 -timeout 30m -run '^TestScale$$' -v . -scale $(SCALE_FLAGS) | grep -v '^redis: ' | tee ../bench-scale.txt

# soak: steady load on the HTTP benchmark's sessionkit servers on Redis and
# bbolt (bench/soak_test.go), sampling heap, goroutines, fds, Redis clients
# and p99; fails if one of them grows past the warm-up. Not part of make
# test. SOAK=2m shortens it; the plot goes to docs/soak.svg.
SOAK ?= 10m
soak:
	cd bench && SOAK=$(SOAK) $(GO) test -count=1 -timeout 0 -run '^TestSoak$$' -v . -soak -soak.plot ../docs/soak.svg | grep -v '^redis: '

demo:
	$(GO) run ./cmd/sessiondemo
