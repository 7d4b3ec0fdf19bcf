#!/usr/bin/env bash
# Rebuilds the test BPF objects from their C sources. The objects are committed
# so the tests run where clang is missing; run this after changing a .c file.
set -euo pipefail
cd "$(dirname "$0")"
CLANG=${CLANG:-$(command -v clang-16 || command -v clang-19 || command -v clang)}
ARCH_INC=/usr/include/$(uname -m)-linux-gnu
for src in *.c; do
  "$CLANG" -target bpf -O2 -g -Wall -I include -I "$ARCH_INC" -c "$src" -o "${src%.c}.o"
done
