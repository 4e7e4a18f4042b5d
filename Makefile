# moonrelay build. `make run` and `make test` are the two commands a newcomer needs.
GO        ?= go
BIN       := bin/moonrelay
GUESTDIR  := build/guests
DEMO_DATA ?= .data/demo
# Main packages under guests/ (everything except the SDK) are compiled to WebAssembly.
GUEST_PKGS := $(shell find guests -name '*.go' -not -name '*_test.go' -not -path 'guests/sdk/*' 2>/dev/null | xargs -r grep -l '^package main' | xargs -r -n1 dirname | sort -u)

.PHONY: all build guests run test test-short bench vet clean

all: build guests

VERSION   ?= v0.1.0-g$(shell git rev-parse --short HEAD 2>/dev/null || echo dev)

build:
	$(GO) build -ldflags '-X main.version=$(VERSION)' -o $(BIN) ./cmd/moonrelay

# Each guest becomes build/guests/<dir name>.wasm, a reactor module (see runtime/RATIONALE.md).
guests:
	@mkdir -p $(GUESTDIR)
	@for d in $(GUEST_PKGS); do \
		name=$$(basename $$d); \
		GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -trimpath -ldflags='-s -w' -o $(GUESTDIR)/$$name.wasm ./$$d || exit 1; \
	done
	@echo "guests: $(words $(GUEST_PKGS)) built into $(GUESTDIR)"

# The demo data folder gets the sample G-code files on first run.
run: build guests
	@mkdir -p $(DEMO_DATA)/gcodes
	@for f in configs/demo-gcodes/*.gcode $(wildcard ../shared/gcode/superslicer-2.3.56_klipper-crlf.gcode); do \
		[ -e $(DEMO_DATA)/gcodes/$$(basename $$f) ] || cp $$f $(DEMO_DATA)/gcodes/; done
	$(BIN) -c configs/demo.toml -d $(DEMO_DATA) --simulate --debug

vet:
	$(GO) vet ./...

# Every moonrelay the tests start shares one plugin compilation cache.
TESTENV := MOONRELAY_GUESTS=$(CURDIR)/$(GUESTDIR) MOONRELAY_WASM_CACHE=$(CURDIR)/build/wasmcache

# Checking every guest once (compile + manifest) before the tests keeps each
# test server's start-up fast.
test: build guests
	@unformatted=$$($$($(GO) env GOROOT)/bin/gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt -w these files: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(TESTENV) $(BIN) plugins list -d build/plugincheck
	$(TESTENV) $(GO) test -race -count=1 -timeout 9m $$($(GO) list ./... | grep -v /guests/transports/)
	@# Transport goldens exercise guest code, which the race detector does not see.
	$(TESTENV) $(GO) test -count=1 -timeout 9m ./guests/transports/...

test-short: guests
	$(TESTENV) $(GO) test -short -count=1 ./...

bench: build guests
	$(TESTENV) $(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 20m ./...

clean:
	rm -rf bin build
