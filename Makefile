# The two commands a new user runs (README): `make demo` and `make test`.
# Both set up what is missing first (tools/setup.sh: apt packages, .venv from gdb's Python).

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
CC ?= gcc
CXX ?= g++
RUSTC ?= rustc
CFLAGS := -O0 -g -pthread -Wall -Wextra -Werror
# C testprogs are named after their file; the C++ and Rust ones (grow.cpp, grow.rs) after
# their file and language.
# leaks-static: leaks.c linked statically (no libc.so: memheap says so).
TESTPROGS := $(patsubst testprogs/%.c,testprogs/build/%,$(wildcard testprogs/*.c)) \
	testprogs/build/leaks-static \
	$(patsubst testprogs/%.cpp,testprogs/build/%-cpp,$(wildcard testprogs/*.cpp)) \
	$(patsubst testprogs/%.rs,testprogs/build/%-rs,$(wildcard testprogs/*.rs))

.PHONY: setup testprogs demo test lint bench clean

setup:
	@bash tools/setup.sh

testprogs: setup $(TESTPROGS)

testprogs/build/%: testprogs/%.c testprogs/attach.h
	@mkdir -p testprogs/build
	$(CC) $(CFLAGS) -o $@ $<

testprogs/build/%-static: testprogs/%.c testprogs/attach.h
	@mkdir -p testprogs/build
	$(CC) $(CFLAGS) -static -o $@ $<

testprogs/build/%-cpp: testprogs/%.cpp
	@mkdir -p testprogs/build
	$(CXX) $(CFLAGS) -o $@ $<

testprogs/build/%-rs: testprogs/%.rs
	@mkdir -p testprogs/build
	$(RUSTC) -g -C opt-level=0 -o $@ $<

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
