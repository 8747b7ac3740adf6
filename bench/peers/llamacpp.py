"""llama.cpp as bench_forward's peer (llama-cpp-python, built from source on this machine).

  llamacpp.py convert MODEL_DIR OUT.gguf   a `seer-lua model create-random` model (Llama or Gemma 2,
                                           bf16 safetensors) as GGUF, with the same weights
  llamacpp.py serve OUT.gguf THREADS CTX   answers one command per stdin line, one line each:
      top1 ID...      greedy top-1 id at every position of the prompt IDs
      prefill ID...   seconds to evaluate the prompt IDs from an empty cache (last logits only)
      decode N ID...  seconds for N single-token steps after the prompt IDs (ids fed back greedily)

The GGUF conversion follows llama.cpp's convert_hf_to_gguf.py for these two families: Llama's q/k
rows are permuted to llama.cpp's rope layout, Gemma's norm weights are stored as 1 + w, 1-D tensors
are f32 and matrices stay bf16. The random models have no tokenizer, so a placeholder SentencePiece
vocabulary of the right size is written; both engines are fed token ids, never text.
"""
import json
import os
import struct
import sys
import time

import numpy as np


def read_safetensors(path):
    """name -> (dtype, shape, memory-mapped uint16 or float32 array) for one safetensors file."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = {"BF16": np.uint16, "F32": np.float32, "F16": np.float16}[info["dtype"]]
        lo, hi = info["data_offsets"]
        count = (hi - lo) // np.dtype(dt).itemsize
        arr = np.memmap(path, dtype=dt, mode="r", offset=base + lo, shape=(count,))
        out[name] = (info["dtype"], tuple(info["shape"]), arr.reshape(info["shape"]))
    return out


def as_f32(dtype, arr):
    if dtype == "BF16":
        return (arr.astype(np.uint32) << 16).view(np.float32)
    return arr.astype(np.float32)


def llama_permute(w, n_head):
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def convert(model_dir, out_path):
    import gguf

    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    mt = cfg["model_type"]
    if mt not in ("llama", "gemma2"):
        sys.exit(f"llamacpp.py convert: model_type {mt!r} not supported (llama, gemma2)")
    tensors = {}
    for fn in sorted(os.listdir(model_dir)):
        if fn.endswith(".safetensors"):
            tensors.update(read_safetensors(os.path.join(model_dir, fn)))
    H, L = cfg["hidden_size"], cfg["num_hidden_layers"]
    nh, nkv = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    hd = cfg.get("head_dim") or H // nh
    V = cfg["vocab_size"]
    w = gguf.GGUFWriter(out_path, mt)
    w.add_name("seer-random-" + mt)
    w.add_context_length(cfg.get("max_position_embeddings", 2048))
    w.add_embedding_length(H)
    w.add_block_count(L)
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(nh)
    w.add_head_count_kv(nkv)
    w.add_layer_norm_rms_eps(cfg.get("rms_norm_eps", 1e-6))
    w.add_rope_freq_base(cfg.get("rope_theta", 10000.0))
    w.add_file_type(gguf.LlamaFileType.MOSTLY_BF16)
    if mt == "llama":
        w.add_rope_dimension_count(hd)
    else:
        w.add_key_length(hd)
        w.add_value_length(hd)
        w.add_attn_logit_softcapping(cfg["attn_logit_softcapping"])
        w.add_final_logit_softcapping(cfg["final_logit_softcapping"])
        w.add_sliding_window(cfg["sliding_window"])
    # placeholder vocabulary: ids only ever go in, so the pieces are names, not text
    bos, eos = cfg.get("bos_token_id", 1), cfg.get("eos_token_id", 2)
    tokens = [f"<t{i}>".encode() for i in range(V)]
    types = [gguf.TokenType.NORMAL] * V
    for i in {0, bos, eos}:
        types[i] = gguf.TokenType.CONTROL
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * V)
    w.add_token_types(types)
    w.add_bos_token_id(bos)
    w.add_eos_token_id(eos)
    w.add_unk_token_id(0)

    names = {
        "model.embed_tokens.weight": "token_embd.weight",
        "model.norm.weight": "output_norm.weight",
        "lm_head.weight": "output.weight",
    }
    per_layer = {
        "input_layernorm": "attn_norm",
        "self_attn.q_proj": "attn_q",
        "self_attn.k_proj": "attn_k",
        "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output",
        "mlp.gate_proj": "ffn_gate",
        "mlp.up_proj": "ffn_up",
        "mlp.down_proj": "ffn_down",
    }
    if mt == "llama":
        per_layer["post_attention_layernorm"] = "ffn_norm"
    else:
        per_layer["post_attention_layernorm"] = "post_attention_norm"
        per_layer["pre_feedforward_layernorm"] = "ffn_norm"
        per_layer["post_feedforward_layernorm"] = "post_ffw_norm"
    for li in range(L):
        for hf, gg in per_layer.items():
            names[f"model.layers.{li}.{hf}.weight"] = f"blk.{li}.{gg}.weight"
    for name, (dtype, shape, arr) in tensors.items():
        if name not in names:
            sys.exit(f"llamacpp.py convert: no GGUF name for tensor {name}")
        gname = names[name]
        if len(shape) == 1:  # norms: f32, Gemma's as 1 + w
            v = as_f32(dtype, arr)
            if mt == "gemma2":
                v = v + np.float32(1.0)
            w.add_tensor(gname, np.ascontiguousarray(v, dtype=np.float32))
            continue
        if dtype != "BF16":
            sys.exit(f"llamacpp.py convert: {name} is {dtype}; the bench converts bf16 models")
        if mt == "llama" and name.endswith("q_proj.weight"):
            arr = llama_permute(np.asarray(arr), nh)
        elif mt == "llama" and name.endswith("k_proj.weight"):
            arr = llama_permute(np.asarray(arr), nkv)
        w.add_tensor(gname, np.ascontiguousarray(arr), raw_dtype=gguf.GGMLQuantizationType.BF16)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def serve(gguf_path, threads, ctx):
    from llama_cpp import Llama

    def load(logits_all, n_ctx):
        return Llama(model_path=gguf_path, n_ctx=n_ctx, n_batch=512, n_ubatch=512,
                     n_threads=threads, n_threads_batch=threads, logits_all=logits_all,
                     use_mmap=True, verbose=False)

    timed = load(False, ctx)
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        cmd, args = words[0], [int(x) for x in words[1:]]
        if cmd == "top1":
            full = load(True, len(args))  # logits at every position: its own context, then dropped
            full.reset()
            full.eval(args)
            top = np.asarray(full.scores[: len(args)]).argmax(axis=1)
            del full
            print(" ".join(str(int(t)) for t in top), flush=True)
        elif cmd == "prefill":
            timed.reset()
            t0 = time.perf_counter()
            timed.eval(args)
            print(f"{time.perf_counter() - t0:.6f}", flush=True)
        elif cmd == "decode":
            n, prompt = args[0], args[1:]
            timed.reset()
            timed.eval(prompt)
            tok = int(np.argmax(timed.scores[timed.n_tokens - 1]))
            t0 = time.perf_counter()
            for _ in range(n):
                timed.eval([tok])
                tok = int(np.argmax(timed.scores[timed.n_tokens - 1]))
            print(f"{time.perf_counter() - t0:.6f}", flush=True)
        else:
            print(f"error unknown command {cmd}", flush=True)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "convert":
        convert(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
