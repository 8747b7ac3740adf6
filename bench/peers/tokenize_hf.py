"""Peer for bench/tokenize: encodes the same corpus chunks with HF tokenizers (the Rust library the
fixtures were made with, from PyPI) on one thread, and prints one line per tokenizer:
    <name> <seconds> <tokens>
usage: python tokenize_hf.py TOKENIZERS_DIR CORPUS_FILE name...
Run with RAYON_NUM_THREADS=1 (bench_tokenize sets it); encode() of one text is single-threaded anyway.
"""
import os
import sys
import time

from tokenizers import Tokenizer

tok_root, corpus_file, *names = sys.argv[1:]
with open(corpus_file, "rb") as f:
    # Chunks are separated by NUL bytes, exactly as the C side splits them.
    chunks = f.read().decode("utf-8").split("\0")

for name in names:
    tok = Tokenizer.from_file(os.path.join(tok_root, name, "tokenizer.json"))
    tok.encode(chunks[0], add_special_tokens=False)  # warm-up
    t0 = time.perf_counter()
    tokens = 0
    for c in chunks:
        tokens += len(tok.encode(c, add_special_tokens=False).ids)
    print(f"{name} {time.perf_counter() - t0:.3f} {tokens}", flush=True)
