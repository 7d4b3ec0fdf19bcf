#!/usr/bin/env bash
# Installs the system packages the test suite uses, when they are missing and
# we are root with apt: clang (compiles test BPF programs), libbpf-dev (headers,
# and the libbpf baseline of the benchmarks), bpftool (the tests' oracle), and
# the cilium/ebpf test corpus, and chromium (headless: renders the profiler's
# SVG flame graph). Without root it only says what is missing.
set -u
need=()
command -v clang-16 >/dev/null 2>&1 || need+=(clang-16 llvm-16)
[ -f /usr/include/bpf/bpf_helpers.h ] || need+=(libbpf-dev)
command -v bpftool >/dev/null 2>&1 || [ -x /usr/sbin/bpftool ] || need+=(bpftool)
[ -d /usr/share/gocode/src/github.com/cilium/ebpf/testdata ] || need+=(golang-github-cilium-ebpf-dev)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
[ -f /usr/include/x86_64-linux-gnu/sys/sdt.h ] || [ -f /usr/include/sys/sdt.h ] || need+=(systemtap-sdt-dev)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-deps: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq "${need[@]}" >/dev/null || {
    echo "ensure-deps: apt-get install ${need[*]} failed" >&2
    exit 1
  }
else
  echo "ensure-deps: missing ${need[*]} (install them as root with apt-get); the tests that need them will skip" >&2
fi
exit 0
