# qsweep build. `make setup` installs Debian packages; `make` builds
# bin/qsweep; `make test` runs every test; `make bench`; `make demo`.

CC      ?= cc
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -MMD -MP
QS_GIT  := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
CFLAGS  += -DQS_VERSION='"0.1-$(QS_GIT)"'
# Opt-in for cluster nodes of one CPU type: make NATIVE=1
ifeq ($(NATIVE),1)
CFLAGS  += -march=native
endif

# pkg-config module -> Debian package, for the missing-dependency message.
PKGS_CORE := openblas:libopenblas-dev zlib:zlib1g-dev libcjson:libcjson-dev sqlite3:libsqlite3-dev libmicrohttpd:libmicrohttpd-dev mpich:libmpich-dev libturbojpeg:libturbojpeg0-dev

pc_mod = $(firstword $(subst :, ,$(1)))
pc_pkg = $(lastword $(subst :, ,$(1)))
MISSING := $(foreach p,$(PKGS_CORE),$(if $(shell pkg-config --exists $(call pc_mod,$(p)) && echo y),,$(p)))

PC_MODS    := openblas zlib libcjson sqlite3 libmicrohttpd mpich libturbojpeg
DEP_CFLAGS := $(shell pkg-config --cflags $(PC_MODS) 2>/dev/null)
DEP_LIBS   := $(shell pkg-config --libs $(PC_MODS) 2>/dev/null) -lm -lpthread

# Layers, one way down: server -> worker -> core. Each layer is compiled
# with only its own rooms and the lower layers' on the include path, so an
# upward include does not compile (tests/cli/layers.sh shows it).
CORE_ROOMS   := $(patsubst %/,%,$(sort $(dir $(wildcard core/*/*.[ch]))))
WORKER_ROOMS := $(patsubst %/,%,$(sort $(dir $(wildcard worker/*/*.[ch]))))
SERVER_ROOMS := $(patsubst %/,%,$(sort $(dir $(wildcard server/*/*.[ch]))))
CORE_INC     := $(addprefix -I,$(CORE_ROOMS))
WORKER_INC   := $(addprefix -I,$(WORKER_ROOMS)) $(CORE_INC)
SERVER_INC   := $(addprefix -I,$(SERVER_ROOMS)) $(WORKER_INC)

CORE_SRC   := $(wildcard core/*/*.c)
WORKER_SRC := $(wildcard worker/*/*.c)
CORE_OBJ   := $(CORE_SRC:%.c=build/%.o)
WORKER_OBJ := $(WORKER_SRC:%.c=build/%.o)
SERVER_SRC := $(wildcard server/*/*.c)
SERVER_OBJ := $(SERVER_SRC:%.c=build/%.o) build/gen/schema_sql.o
MAIN_OBJ   := build/server/cli/main.o
APP_OBJ    := $(WORKER_OBJ) $(SERVER_OBJ)
TEST_SRC   := $(wildcard tests/test_*.c)
TEST_BIN   := $(TEST_SRC:tests/%.c=build/tests/%)

# Fuzz targets (rules and notes below `make fuzz`; docs/fuzzing.md).
FUZZ_CC      ?= clang
FUZZ_CC_OK   := $(shell command -v $(FUZZ_CC) 2>/dev/null)
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) \
                -DQS_VERSION='"fuzz"'
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES   := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_OBJ     := $(patsubst %.c,build/fuzz/obj/%.o,$(CORE_SRC) $(WORKER_SRC) $(filter-out server/cli/main.c,$(SERVER_SRC))) \
                build/fuzz/obj/gen/schema_sql.o

APT_PKGS := mpich libmpich-dev libopenblas-dev libsqlite3-dev libmicrohttpd-dev \
            libcjson-dev libjs-chart.js zlib1g-dev libturbojpeg0-dev pkg-config dataset-fashion-mnist \
            sqlite3 chromium clang libclang-rt-14-dev \
            python3 ca-certificates

.PHONY: all setup setup-bench test bench bench-compare demo clean check-deps fuzz fuzz-build fuzz-seeds tests

all: check-deps bin/qsweep

check-deps:
	@if [ -n "$(strip $(MISSING))" ]; then \
	  for p in $(MISSING); do echo "missing dependency: pkg-config module $${p%%:*} (Debian package $${p##*:}); run 'make setup'" >&2; done; \
	  exit 1; fi

build/core/%.o: core/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) $(CORE_INC) -c $< -o $@

build/worker/%.o: worker/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) $(WORKER_INC) -c $< -o $@

build/server/%.o: server/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) $(SERVER_INC) -c $< -o $@

# The include flags of a layer, for tests/cli/layers.sh.
print-inc-%:
	@echo $($(shell echo $* | tr a-z A-Z)_INC)

# sql/schema.sql compiled in as the C string qs_schema_sql (server/db/db.c):
# the binary creates databases without finding the .sql file at run time.
build/gen/schema_sql.o: sql/schema.sql
	@mkdir -p build/gen
	{ echo 'const char qs_schema_sql[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $<; echo ';'; } > build/gen/schema_sql.c
	$(CC) $(CFLAGS) -c build/gen/schema_sql.c -o $@

build/libqscore.a: $(CORE_OBJ)
	ar rcs $@ $^

bin/qsweep: $(APP_OBJ) build/libqscore.a
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $(APP_OBJ) build/libqscore.a $(DEP_LIBS)

# Tests link the application objects too (all but main), so they can test
# the worker and server modules directly.
build/tests/%: tests/%.c build/libqscore.a $(APP_OBJ) tests/tharness.h
	@mkdir -p build/tests
	$(CC) $(CFLAGS) $(DEP_CFLAGS) $(SERVER_INC) -Itests -o $@ $< $(filter-out $(MAIN_OBJ),$(APP_OBJ)) build/libqscore.a $(DEP_LIBS)

# ImageNet-layout trees for the tests (docs/imagenet.md, "Making a tiny tree").
build/tests/tool_imnet: tests/tool_imnet.c build/libqscore.a
	@mkdir -p build/tests
	$(CC) $(CFLAGS) $(DEP_CFLAGS) $(CORE_INC) -o $@ $< build/libqscore.a $(DEP_LIBS)

# tests/tool_lsq_ref.c (the PyTorch reference's numbers) builds by the rule above.
tests: $(TEST_BIN) build/tests/tool_imnet build/tests/tool_lsq_ref

# Installs what is missing; apt-get update once first.
setup:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	else echo "all Debian packages present"; fi
	@mkdir -p data
	@if [ ! -e data/cifar10 ]; then \
	  if [ -d ../shared/data/cifar10 ]; then ln -s ../../shared/data/cifar10 data/cifar10 && echo "linked data/cifar10 -> ../shared/data/cifar10"; \
	  else echo "CIFAR-10 not found: put the official binary files (data_batch_1.bin .. data_batch_5.bin, test_batch.bin) in data/cifar10/"; fi; fi

setup-bench: setup
	@for p in python3-torch wrk; do dpkg -s $$p >/dev/null 2>&1 || m="$$m $$p"; done; [ -z "$$m" ] || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$m >/dev/null)

test: all tests $(if $(FUZZ_CC_OK),fuzz-build)
	@bash tests/run.sh

bench: all
	@bash bench/run.sh

bench-compare: all setup-bench
	@bash bench/compare.sh

demo: setup
	@$(MAKE) --no-print-directory all
	@bash tests/demo.sh

# The include flags of the layer a source file is in.
layer_inc = $(if $(filter core/%,$(1)),$(CORE_INC),$(if $(filter worker/%,$(1)),$(WORKER_INC),$(SERVER_INC)))

# Fuzz targets (docs/fuzzing.md): every tests/fuzz/fuzz_NAME.c defines
# LLVMFuzzerTestOneInput and is linked with the project's objects rebuilt by
# clang with libFuzzer, ASan and UBSan in build/fuzz/; its seeds are
# tests/fuzz/seeds/NAME/ plus build/fuzz/seeds/NAME/ (made by fuzz-seeds).
# `make fuzz FUZZ_SECONDS=N` runs each for N seconds; new inputs go to
# build/fuzz/corpus/NAME/, crashes to build/fuzz/crash-NAME-*.
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP $(DEP_CFLAGS) $(call layer_inc,$<) -c $< -o $@

build/fuzz/obj/gen/schema_sql.o: build/gen/schema_sql.o
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c build/gen/schema_sql.c -o $@

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(DEP_CFLAGS) $(SERVER_INC) -o $@ $< $(FUZZ_OBJ) $(DEP_LIBS)

fuzz-build: check-deps
	@if [ -z "$(FUZZ_CC_OK)" ]; then echo "$(FUZZ_CC) not found: run 'make setup'" >&2; exit 1; fi
	@$(MAKE) --no-print-directory $(FUZZ_BIN)

# Seeds that are generated rather than committed: the shipped grids, and
# checkpoints of the fcdnn-8-3 model fuzz_ckpt.c resumes (float, and a W2A2
# retrain of it, each stopped after 1 of 2 epochs).
fuzz-seeds: bin/qsweep
	@mkdir -p build/fuzz/seeds/grid build/fuzz/seeds/ckpt
	@cp sweeps/*.json build/fuzz/seeds/grid/
	@s="--model fcdnn --depth 3 --width 8 --data synthetic --train-limit 256 --test-limit 64 --batch 64 --epochs 2"; \
	  d=build/fuzz/seeds/ckpt; \
	  bin/qsweep train $$s --save $$d/float1.qsc --stop-after 1 >/dev/null 2>&1 && \
	  bin/qsweep train $$s --save $$d/float2.qsc >/dev/null 2>&1 && \
	  bin/qsweep train $$s --phase retrain --wbits 2 --abits 2 --from $$d/float2.qsc \
	    --save $$d/w2a2.qsc --stop-after 1 >/dev/null 2>&1 || { echo "fuzz-seeds: training failed" >&2; exit 1; }

fuzz: fuzz-build fuzz-seeds
	@for n in $(FUZZ_NAMES); do \
	  mkdir -p build/fuzz/corpus/$$n tests/fuzz/seeds/$$n build/fuzz/seeds/$$n; \
	  echo "fuzz_$$n: $(FUZZ_SECONDS) s"; \
	  build/fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 \
	    -artifact_prefix=build/fuzz/crash-$$n- -print_final_stats=1 \
	    build/fuzz/corpus/$$n tests/fuzz/seeds/$$n build/fuzz/seeds/$$n || exit 1; \
	done

clean:
	rm -rf build bin

-include $(CORE_OBJ:.o=.d) $(APP_OBJ:.o=.d) $(FUZZ_OBJ:.o=.d) $(TEST_BIN:=.d)
