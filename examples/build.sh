#!/usr/bin/env bash
# Rebuilds the shipped example objects (committed, so users need no compiler).
set -euo pipefail
cd "$(dirname "$0")"
CLANG=${CLANG:-$(command -v clang-16 || command -v clang-19 || command -v clang)}
for src in *.bpf.c; do
  "$CLANG" -target bpf -O2 -g -Wall -I "/usr/include/$(uname -m)-linux-gnu" -c "$src" -o "${src%.c}.o"
done
