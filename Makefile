# vanlink: run `make` or `make help` for the list of targets.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO            ?= go
BIN_DIR       := $(CURDIR)/bin
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS       := -X github.com/vanlink/vanlink/pkg/version.Version=$(VERSION)
# Pinned tool versions. kube-apiserver follows the client-go version in go.mod.
HELM_VERSION  := v3.22.0
# go run builds Helm without its release -ldflags, and Helm then assumes Kubernetes
# v1.20.0 (below both charts' kubeVersion): set what the v3.22.0 release binary
# reports (Helm's Makefile: client-go v0.37.0, so Kubernetes 1.37) and its version.
HELM          ?= $(GO) run -ldflags "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=37 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=37 -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION)" helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
TEST_FLAGS    ?=
CHARTS        := $(wildcard charts/*/Chart.yaml)

export VANLINK_TEST_BIN_DIR := $(BIN_DIR)

##@ General

.PHONY: help
help: ## Show this list of targets
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} \
	  /^[a-zA-Z0-9_.-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } \
	  /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Run

.PHONY: demo
demo: tools ## Local demo: hub, east and west API servers, charts installed, hook run, both spokes linked (Ctrl-C stops)
	$(GO) run ./e2e/demo

# kind runs clusters in containers: the kind targets stop at once without a Docker engine.
REQUIRE_DOCKER = @docker info >/dev/null 2>&1 || { echo "make $@ needs a running Docker engine (kind runs each cluster in a container) and none answers here. Without Docker, run 'make demo' and 'make test': the same scenarios on local API servers."; exit 1; }

.PHONY: demo-kind
demo-kind: ## kind demo: hub, east and west kind clusters, real Skupper, traffic from the hub to each spoke (needs Docker)
	$(REQUIRE_DOCKER)
	$(GO) run ./e2e/kind/demo up

.PHONY: demo-kind-down
demo-kind-down: ## Delete the kind demo's clusters
	$(REQUIRE_DOCKER)
	$(GO) run ./e2e/kind/demo down

##@ Build

.PHONY: build
build: ## Build the vanlink binary into bin/vanlink
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN_DIR)/vanlink ./cmd/vanlink

.PHONY: image-archive
image-archive: ## Build the vanlink image without Docker into _output/vanlink-image.tar (OCI layout; kind load image-archive)
	$(GO) run ./hack/image -o _output/vanlink-image.tar -version $(VERSION) -revision "$$(git rev-parse HEAD 2>/dev/null || true)"

.PHONY: image
image: ## Build the vanlink image with Docker (needs a Docker engine)
	@docker info >/dev/null 2>&1 || { echo "make image needs a running Docker engine; use 'make image-archive' to build the same image without Docker"; exit 1; }
	docker build --build-arg VERSION=$(VERSION) -t ghcr.io/vanlink/vanlink:$(VERSION) .

.PHONY: tools
tools: $(BIN_DIR)/kube-apiserver $(BIN_DIR)/etcd $(BIN_DIR)/work-agent ## Build the test-bed binaries (kube-apiserver, etcd, the OCM work agent) into bin/

# hack/gobuild runs go build and prints which binary it builds, the time so
# far and the packages compiled every 30 s: a first kube-apiserver build
# takes many minutes.
GOBUILD := $(GO) run ./hack/gobuild -go $(GO)

# kube-apiserver reports the version of its module, as a release build does
# (go build alone leaves v0.0.0-master), so charts' kubeVersion checks pass.
KUBE_VERSION  := $(shell awk '$$1 == "require" && $$2 == "k8s.io/kubernetes" {print $$3}' hack/tools/kube-apiserver/go.mod)
KUBE_LDFLAGS  := -X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) \
  -X k8s.io/component-base/version.gitMajor=$(word 1,$(subst ., ,$(patsubst v%,%,$(KUBE_VERSION)))) \
  -X k8s.io/component-base/version.gitMinor=$(word 2,$(subst ., ,$(KUBE_VERSION))) \
  -X k8s.io/component-base/version.gitTreeState=clean

$(BIN_DIR)/kube-apiserver: hack/tools/kube-apiserver/go.mod hack/tools/kube-apiserver/go.sum Makefile
	@$(GOBUILD) -C hack/tools/kube-apiserver -o $@ -ldflags "$(KUBE_LDFLAGS)" \
	  -note "the first build compiles about 2,000 packages, about 20 minutes of CPU: some 10 minutes on 2 idle cores, 30 or more on a busy machine; seconds once Go's build cache holds them" \
	  k8s.io/kubernetes/cmd/kube-apiserver

$(BIN_DIR)/etcd: hack/tools/etcd/go.mod hack/tools/etcd/go.sum
	@$(GOBUILD) -C hack/tools/etcd -o $@ -note "the first build takes about a minute on 2 cores" go.etcd.io/etcd/server/v3

# The Open Cluster Management work agent (open-cluster-management.io/ocm
# cmd/work), run as a process per spoke by the ManifestWork transport's tests.
$(BIN_DIR)/work-agent: hack/tools/ocm-work/go.mod hack/tools/ocm-work/go.sum
	@$(GOBUILD) -C hack/tools/ocm-work -o $@ \
	  -note "the first build compiles about 2,000 packages: some 5 minutes on 2 cores (4 min 43 s measured); seconds once Go's build cache holds them" \
	  open-cluster-management.io/ocm/cmd/work

##@ Test

# Every go test has a timeout with margin: it bounds one package's test
# binary (compiling it is not counted), so a hung test fails with a goroutine
# dump instead of running into CI's limit.
UNIT_TIMEOUT        ?= 5m
IMAGES_TIMEOUT      ?= 30m
INTEGRATION_TIMEOUT ?= 20m
E2E_TIMEOUT         ?= 30m
# Each test target prints how long it took ("test-unit: 52 s"), so a run's
# log gives the tier times the README quotes.
TIMED               = TIMEFORMAT='$@: %0R s'; time
# Scenarios run in parallel, each on a test bed (etcd + three API servers) of
# its own while it runs; beds are cleared and lent to the next scenario.
E2E_PARALLEL        ?= 2

.PHONY: test
test: tools vet-kind test-unit test-images test-integration test-e2e ## Run every test tier that needs no Docker (unit, images, integration, e2e) and vet the kind tier

.PHONY: vet-kind
vet-kind: ## Vet the kind tier (build tag e2e_kind), so it keeps compiling where kind cannot run
	$(GO) vet -tags e2e_kind ./...

.PHONY: test-unit
test-unit: ## Run unit tests (fakes only: no API server, no binary or image build)
	$(TIMED) $(GO) test -timeout $(UNIT_TIMEOUT) $(TEST_FLAGS) ./...

# -p 1: the two packages run one after the other, so the static vanlink's
# packages are compiled once and the second package finds them in Go's build cache.
.PHONY: test-images
test-images: ## Build the images from this checkout, as make image-archive and the kind tier do, and check them (build tag images)
	$(TIMED) $(GO) test -tags images -p 1 -timeout $(IMAGES_TIMEOUT) $(TEST_FLAGS) ./hack/image ./e2e/kind

.PHONY: test-integration
test-integration: tools ## Run integration tests on the local API-server test bed
	$(TIMED) $(GO) test -tags integration -timeout $(INTEGRATION_TIMEOUT) $(TEST_FLAGS) ./...

.PHONY: test-e2e
test-e2e: tools ## Run the end-to-end scenarios on local API servers (Skupper and ACM agent simulated)
	$(TIMED) $(GO) test -tags e2e -timeout $(E2E_TIMEOUT) -parallel $(E2E_PARALLEL) $(TEST_FLAGS) ./e2e/...

.PHONY: e2e-kind
e2e-kind: ## Run the end-to-end scenarios on kind clusters with the real Skupper (needs Docker; timeout 90m; not run on the project's machines, so its duration is not measured)
	$(REQUIRE_DOCKER)
	$(GO) test -tags e2e_kind -timeout 90m -v $(TEST_FLAGS) ./e2e/kind/...

.PHONY: bench
bench: tools ## Fleet-scale benchmark (passes at N=10,100,1000 simulated spokes, 200 ms agent latency; vanlink controller at 100, 1000, 10000: joins, steady cost, memory) and the planner benchmark; writes BENCHMARKS.md
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./pkg/reconcile
	$(GO) run ./e2e/bench

.PHONY: lint
lint: ## Check formatting, go vet (every build tag), and helm lint --strict every chart with every values file (defaults, values/, charts/*/ci/*-values.yaml)
	@unformatted="$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go'))"; \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags integration ./...
	$(GO) vet -tags e2e ./...
	$(GO) vet -tags e2e_kind ./...
	$(GO) vet -tags images ./...
	$(HELM) lint --strict charts/service-interconnect
	$(HELM) lint --strict charts/service-interconnect -f values/catalog.yaml -f values/clusters/hub.yaml
	@for spoke in $$(ls values/clusters/*.yaml | grep -v '/hub.yaml$$'); do \
	  echo "$(HELM) lint --strict charts/spoke-interconnect -f values/catalog.yaml -f $$spoke"; \
	  $(HELM) lint --strict charts/spoke-interconnect -f values/catalog.yaml -f $$spoke; \
	done
	@for ci in $$(ls charts/*/ci/*-values.yaml); do \
	  chart="$${ci%/ci/*}"; \
	  echo "$(HELM) lint --strict $$chart -f $$ci"; \
	  $(HELM) lint --strict "$$chart" -f "$$ci"; \
	done

.PHONY: docs
docs: ## Regenerate the values tables of the chart READMEs from values.yaml and copy charts/_shared/ into each chart
	$(GO) run ./hack/chartdoc
