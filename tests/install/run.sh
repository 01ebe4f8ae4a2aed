#!/usr/bin/env bash
# The engine as an installed package, proven as an embedder would use it:
#   1. engine/ configured on its own (not through the top-level project),
#      built static and shared, `cmake --install`ed into temporary prefixes;
#   2. examples/embed built against each prefix through find_package(propwatch)
#      and through pkg-config (C++ and the C ABI), never against a build tree,
#      each run and its output compared with examples/embed/expected_output.txt;
#   3. the C ABI driven from Python (ctypes) with exact counter values;
#   4. the installed tree checked: headers include no abseil, the shared
#      library exports only propwatch symbols.
# Prints one line per check and "N passed, N failed" at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
version=$(sed -n 's/^set(PROPWATCH_VERSION \([0-9.]*\))/\1/p' engine/cmake/version.cmake)
work=$(mktemp -d "${TMPDIR:-/tmp}/propwatch-install.XXXXXX")
trap 'rm -rf "$work"' EXIT

# shellcheck source=../../scripts/lib/check.sh
. scripts/lib/check.sh

install_engine() {  # install_engine KIND(static|shared)
  local kind=$1 shared=OFF
  [ "$kind" = shared ] && shared=ON
  cmake -S engine -B "$work/build-$kind" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=$shared -DCMAKE_INSTALL_PREFIX="$work/prefix-$kind" &&
    cmake --build "$work/build-$kind" &&
    cmake --install "$work/build-$kind"
}

run_matches_expected() {  # run_matches_expected BINARY
  "$1" >"$work/out.txt" && diff -u examples/embed/expected_output.txt "$work/out.txt"
}

cmake_example() {  # cmake_example KIND
  local kind=$1 out="$work/example-cmake-$1"
  cmake -S examples/embed -B "$out" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix-$kind" &&
    cmake --build "$out" &&
    run_matches_expected "$out/embed_example"
}

pkgconfig_examples() {  # pkgconfig_examples KIND: the C++ and the C program
  local kind=$1 out="$work/example-pc-$1" static=""
  [ "$kind" = static ] && static=1
  mkdir -p "$out"
  PKG_CONFIG_PATH="$work/prefix-$kind/lib/pkgconfig" \
    make -s -C "$out" -f "$root/examples/embed/Makefile" VPATH="$root/examples/embed" \
    STATIC=$static &&
    run_matches_expected "$out/embed_example" &&
    run_matches_expected "$out/embed_c_example"
}

headers_are_self_contained() {  # no abseil in public headers; each compiles alone
  local prefix="$work/prefix-static" h
  # Code, not comments: no abseil include or type.
  ! grep -rn -E '^[^/]*(#include [<"]absl|absl::)' "$prefix/include/propwatch" || return 1
  for h in "$prefix"/include/propwatch/*.h; do
    echo "#include \"propwatch/$(basename "$h")\"" |
      c++ -std=c++20 -fsyntax-only -I"$prefix/include" -x c++ - || return 1
  done
  echo '#include "propwatch/c.h"' | cc -std=c89 -pedantic -Werror -fsyntax-only -I"$prefix/include" -x c -
}

exports_only_propwatch() {  # the shared library's dynamic symbols
  local lib="$work/prefix-shared/lib/libpropwatch.so" leaked
  leaked=$(nm -D --defined-only -C "$lib" | awk '{ $1=""; $2=""; print }' |
    grep -v -E '^ *((guard variable for |typeinfo for |typeinfo name for |vtable for )?propwatch|_init|_fini|__bss_start|_edata|_end)$|^ *(guard variable for |typeinfo for |typeinfo name for |vtable for )?propwatch[:_]' || true)
  [ -z "$leaked" ] || { echo "symbols outside propwatch:"; echo "$leaked"; return 1; }
  nm -D --defined-only "$lib" | grep -c ' T propwatch_engine_create$' >/dev/null  # -c reads all: no SIGPIPE under pipefail
}

check "engine/ configures alone, builds and installs (static)" install_engine static
check "engine/ configures alone, builds and installs (shared, SOVERSION)" install_engine shared
check "shared library carries its SONAME libpropwatch.so.${version%.*}" \
  bash -c "objdump -p '$work/prefix-shared/lib/libpropwatch.so' | grep -q 'SONAME *libpropwatch.so.${version%.*}\$'"
check "public headers: no abseil, each compiles on its own (C++20; c.h as C89)" \
  headers_are_self_contained
check "shared library exports only the propwatch API" exports_only_propwatch
c_only_cmake_project() {  # KIND: a project with only C enabled
  local out="$work/example-c-only-$1"
  cmake -S tests/install/c_only -B "$out" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix-$1" &&
    cmake --build "$out" && run_matches_expected "$out/embed_c_example"
}

shared_pc_needs_no_abseil() {  # pkg-config sees only propwatch.pc: no abseil .pc needed
  PKG_CONFIG_LIBDIR="$work/prefix-shared/lib/pkgconfig" pkg-config --cflags --libs propwatch &&
    ! PKG_CONFIG_LIBDIR="$work/prefix-shared/lib/pkgconfig" pkg-config --cflags propwatch | grep -q absl
}

docs_python_snippet_runs() {  # the ctypes snippet of docs/embedding.md, as printed
  python3 - "$work/prefix-shared/lib" <<'PY'
import re, sys
doc = open("docs/embedding.md").read()
code = re.search(r"```python\n(.*?)```", doc, re.S).group(1)
code = code.replace('"libpropwatch.so.0.2"', repr(sys.argv[1] + "/libpropwatch.so.0.2"))
scope = {}
exec(code, scope)
assert scope["engine"].value, "no engine handle"
PY
}

check "find_package(propwatch) example, static package" cmake_example static
check "find_package(propwatch) example, shared package" cmake_example shared
check "C-only CMake project links the static package" c_only_cmake_project static
check "C-only CMake project links the shared package" c_only_cmake_project shared
check "shared package: pkg-config needs no abseil .pc files" shared_pc_needs_no_abseil
check "the Python snippet of docs/embedding.md runs" docs_python_snippet_runs
check "pkg-config examples (C++ and C ABI), static package" pkgconfig_examples static
check "pkg-config examples (C++ and C ABI), shared package" pkgconfig_examples shared
check "docs/embedding.md shows examples/embed/main.cc verbatim" \
  python3 -c 'import sys; sys.exit(open("examples/embed/main.cc").read() not in open("docs/embedding.md").read())'
check "the license is installed" test -f "$work/prefix-static/share/doc/propwatch/LICENSE"
check "C ABI from Python (ctypes), exact counters" \
  python3 tests/install/c_abi_test.py "$work/prefix-shared/lib/libpropwatch.so" "$version"

check_summary install
