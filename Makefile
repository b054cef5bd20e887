# berth: the usual entry points.  Meson + Ninja do the real build.
#
#   make / make build   configure ./build if needed, then build
#   make demo           install deps, build, run a busybox container
#   make check          install deps, build, run every test (as root)
#   make clean          remove build outputs and demo bundles

BUILD_DIR ?= build
BERTH     := ./$(BUILD_DIR)/src/cli/berth
DEMO      := .bundle/demo
DEMO_ID   := berth-demo

.PHONY: all build deps demo check clean

all: build

$(BUILD_DIR)/build.ninja:
	meson setup $(BUILD_DIR)

build: $(BUILD_DIR)/build.ninja
	ninja -C $(BUILD_DIR)

deps:
	bash scripts/install-deps.sh

demo: deps
	$(MAKE) build
	BERTH=$(BERTH) ARGS='["sh", "-c", "echo hostname: $$(hostname); id; echo pid $$$$; ls -l /proc/self/ns"]' \
		scripts/make-bundle.sh $(DEMO)
	-@$(BERTH) delete --force $(DEMO_ID) 2>/dev/null
	$(BERTH) run --bundle $(DEMO) $(DEMO_ID)
	@$(BERTH) delete --force $(DEMO_ID) 2>/dev/null || true

check: deps
	$(MAKE) build
	bash tests/run-all.sh

clean:
	rm -rf $(BUILD_DIR) .bundle
