# The two commands a new user runs (README): `make demo` and `make test`.
# Both set up what is missing first (tools/setup.sh: apt packages, .venv from gdb's Python).

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
CC ?= gcc
CFLAGS := -O0 -g -pthread -Wall -Wextra -Werror
TESTPROGS := $(patsubst testprogs/%.c,testprogs/build/%,$(wildcard testprogs/*.c))

.PHONY: setup testprogs demo test lint bench clean

setup:
	@bash tools/setup.sh

testprogs: setup $(TESTPROGS)

testprogs/build/%: testprogs/%.c
	@mkdir -p testprogs/build
	$(CC) $(CFLAGS) -o $@ $<

demo: testprogs
	@bash tools/demo.sh

lint: setup
	$(PY) -m ruff check gdbmem tests bench gdbinit.py

test: testprogs lint
	@bash tools/setup.sh --browser
	$(PY) -m pytest

bench: testprogs
	@bash bench/run.sh

clean:
	rm -rf testprogs/build .pytest_cache .ruff_cache .hypothesis
