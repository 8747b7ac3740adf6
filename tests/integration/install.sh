#!/usr/bin/env bash
# cmake --install to a prefix chosen at install time, then the install moved elsewhere: seer.pc
# (pkg-config) and the CMake package (find_package(seer), target seer::seer) must both still find
# it, and examples/embed-c built out of tree against it runs, sandbox included (the helper is
# found in libexec/seer beside the installed libseer).
set -euo pipefail
build=${SEER_BUILD_DIR:?}
src=${SEER_SOURCE_DIR:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 711 "$tmp" # as root, the sandbox's own uid walks to its root mount point

# A sanitized libseer needs its runtime in the programs that link it.
san=()
if grep -q '^SEER_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then san=(-fsanitize=address,undefined); fi

cmake --install "$build" --prefix "$tmp/first" > "$tmp/install.log"
mv "$tmp/first" "$tmp/prefix"
prefix="$tmp/prefix"
pc=$(find "$prefix" -name seer.pc)
[[ -n "$pc" ]] || { echo "seer.pc was not installed"; exit 1; }
if grep -q "$tmp/first\|/usr/local" "$pc"; then cat "$pc"; echo "seer.pc names a fixed prefix"; exit 1; fi
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
libdir=$(pkg-config --variable=libdir seer)
[[ "$(realpath "$libdir")" == "$(realpath "$(dirname "$(dirname "$pc")")")" ]] \
  || { echo "pkg-config libdir $libdir is not where seer.pc lies"; exit 1; }
[[ -e "$libdir/libseer.so" && -e "$prefix/bin/seer-lua" && -x "$prefix/libexec/seer/seer-sandbox" ]] \
  || { find "$prefix" -maxdepth 3; echo "the install is incomplete"; exit 1; }

# pkg-config
# shellcheck disable=SC2046
cc "${san[@]}" -o "$tmp/embed-pc" "$src/examples/embed-c/main.c" $(pkg-config --cflags --libs seer)
out=$(LD_LIBRARY_PATH="$libdir" "$tmp/embed-pc" 2>&1) || { echo "$out"; exit 1; }
[[ "$out" == *"squares: 9 16 25"* ]] || { echo "$out"; echo "pkg-config build: no squares line"; exit 1; }

# find_package(seer) and seer::seer
cmake -S "$src/examples/embed-c" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_FLAGS="${san[*]}" -DCMAKE_EXE_LINKER_FLAGS="${san[*]}" > "$tmp/configure.log" \
  || { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/cmake" > "$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }
out=$("$tmp/cmake/embed-example" 2>&1) || { echo "$out"; exit 1; }
[[ "$out" == *"squares: 9 16 25"* ]] || { echo "$out"; echo "find_package build: no squares line"; exit 1; }
mkdir "$tmp/t"
chmod 711 "$tmp/t"
out=$(env -u SEER_HELPER TMPDIR="$tmp/t" "$tmp/cmake/embed-example" --sandbox 2>&1) || { echo "$out"; exit 1; }
[[ "$out" == *"sandbox says: hi"* ]] || { echo "$out"; echo "the installed helper did not run"; exit 1; }
echo "install: ok"
