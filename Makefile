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

CORE_SRC   := $(wildcard core/*.c)
WORKER_SRC := $(wildcard worker/*.c)
CORE_OBJ   := $(CORE_SRC:%.c=build/%.o)
WORKER_OBJ := $(WORKER_SRC:%.c=build/%.o)
SERVER_SRC := $(wildcard server/*.c)
SERVER_OBJ := $(SERVER_SRC:%.c=build/%.o) build/gen/schema_sql.o
APP_OBJ    := $(WORKER_OBJ) $(SERVER_OBJ)
TEST_SRC   := $(wildcard tests/test_*.c)
TEST_BIN   := $(TEST_SRC:tests/%.c=build/tests/%)

APT_PKGS := mpich libmpich-dev libopenblas-dev libsqlite3-dev libmicrohttpd-dev \
            libcjson-dev libjs-chart.js zlib1g-dev libturbojpeg0-dev pkg-config dataset-fashion-mnist \
            sqlite3 chromium \
            ca-certificates

.PHONY: all setup setup-bench test bench bench-compare demo clean check-deps

all: check-deps bin/qsweep

check-deps:
	@if [ -n "$(strip $(MISSING))" ]; then \
	  for p in $(MISSING); do echo "missing dependency: pkg-config module $${p%%:*} (Debian package $${p##*:}); run 'make setup'" >&2; done; \
	  exit 1; fi

build/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) -Icore -Iworker -Iserver -c $< -o $@

# sql/schema.sql compiled in as the C string qs_schema_sql (server/db.c):
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
	$(CC) $(CFLAGS) $(DEP_CFLAGS) -Icore -Iworker -Iserver -Itests -o $@ $< $(filter-out build/worker/main.o,$(APP_OBJ)) build/libqscore.a $(DEP_LIBS)

tests: $(TEST_BIN)

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

test: all $(TEST_BIN)
	@bash tests/run.sh

bench: all
	@bash bench/run.sh

bench-compare: all setup-bench
	@bash bench/compare.sh

demo: setup
	@$(MAKE) --no-print-directory all
	@bash tests/demo.sh

clean:
	rm -rf build bin

-include $(CORE_OBJ:.o=.d) $(APP_OBJ:.o=.d)
