"""Reference tier: the engine against HF transformers itself, on random small configs that no
fixture covers. For every supported architecture, two seeds and two weight dtypes (f32, and bf16
computed in f32 as HF does after loading bf16 weights), with sliding windows, softcaps, q/k norms,
biases, llama3 rope scaling and tied embeddings drawn by the seed, it compares:
  - every hidden state (HF numbering: [0] embeddings ... [L] final norm) and the logits,
    within 1e-4*max(1,|ref|) (f32) or 2e-4*max(1,|ref|) (bf16), the fixtures' README tolerances;
  - greedy tokens with the KV cache, and a left-padded batch of two rows: exact.
Run by `tools/test.sh --reference` (needs the venv's reference tier: torch, transformers).
"""
import json
import os
import random
import subprocess
import sys
import tempfile

import numpy as np
import torch
import transformers
from safetensors.numpy import load_file

transformers.utils.logging.disable_progress_bar()
BIN = os.environ["SEER_LUA_BIN"]
DUMP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "engine_dump.lua")
NEW_TOKENS = 8


def draw_config(arch, seed):
    """A small config of `arch` with the details that arch supports, drawn from `seed`."""
    r = random.Random(seed * 1000 + hash(arch) % 1000)
    heads = r.choice([2, 4])
    kv = r.choice([h for h in (1, 2, heads) if heads % h == 0])
    head_dim = r.choice([8, 16, 24])
    hidden = r.choice([32, 48, 64])
    common = dict(vocab_size=r.choice([256, 384]), hidden_size=hidden,
                  intermediate_size=r.choice([64, 96, 128]), num_hidden_layers=r.choice([2, 3, 4]),
                  num_attention_heads=heads, num_key_value_heads=kv, max_position_embeddings=512,
                  rms_norm_eps=r.choice([1e-5, 1e-6]), initializer_range=0.1, pad_token_id=0,
                  bos_token_id=1, eos_token_id=2, tie_word_embeddings=r.random() < 0.5)
    theta = r.choice([10000.0, 500000.0])
    if arch == "llama":
        rope = {"rope_type": "default", "rope_theta": theta}
        if r.random() < 0.5:
            rope = {"rope_type": "llama3", "rope_theta": theta, "factor": 8.0, "low_freq_factor": 1.0,
                    "high_freq_factor": 4.0, "original_max_position_embeddings": 16}
        return transformers.LlamaConfig(head_dim=head_dim, rope_parameters=rope,
                                        attention_bias=False, **common)
    if arch == "mistral":
        return transformers.MistralConfig(head_dim=head_dim, sliding_window=r.choice([3, 4, 6]),
                                          rope_parameters={"rope_type": "default", "rope_theta": theta},
                                          **common)
    if arch == "gemma":
        return transformers.GemmaConfig(head_dim=head_dim, hidden_activation="gelu_pytorch_tanh",
                                        rope_parameters={"rope_type": "default", "rope_theta": theta},
                                        **common)
    if arch == "gemma2":
        return transformers.Gemma2Config(head_dim=head_dim, sliding_window=r.choice([3, 4, 6]),
                                         attn_logit_softcapping=r.choice([None, 20.0, 50.0]),
                                         final_logit_softcapping=r.choice([None, 10.0, 30.0]),
                                         query_pre_attn_scalar=r.choice([head_dim, 24, 32]),
                                         hidden_activation="gelu_pytorch_tanh",
                                         rope_parameters={"rope_type": "default", "rope_theta": theta},
                                         **common)
    if arch == "gemma3_text":
        n = common["num_hidden_layers"]
        types = [r.choice(["sliding_attention", "full_attention"]) for _ in range(n)]
        return transformers.Gemma3TextConfig(
            head_dim=head_dim, sliding_window=r.choice([3, 4, 6]), layer_types=types,
            query_pre_attn_scalar=r.choice([head_dim, 24]), hidden_activation="gelu_pytorch_tanh",
            rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": theta},
                             "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}},
            final_logit_softcapping=r.choice([None, 30.0]), **common)
    if arch == "qwen2":
        common.pop("head_dim", None)
        common["hidden_size"] = heads * head_dim
        return transformers.Qwen2Config(rope_parameters={"rope_type": "default", "rope_theta": theta},
                                        **common)
    if arch == "qwen3":
        return transformers.Qwen3Config(head_dim=head_dim, attention_bias=r.random() < 0.3,
                                        rope_parameters={"rope_type": "default", "rope_theta": theta},
                                        **common)
    raise ValueError(arch)


def randomize(model, seed):
    """Moves every 1-D parameter (norm weights, biases) off its init value, so that a norm or
    bias the engine mishandles shows; matrices keep HF's seeded init."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 1:
                p.add_(0.2 * torch.randn(p.shape, generator=g))


def reference(model, ids, batch):
    with torch.no_grad():
        out = model(torch.tensor([ids]), output_hidden_states=True)
        greedy = model.generate(torch.tensor([ids]), max_new_tokens=NEW_TOKENS, do_sample=False,
                                min_new_tokens=NEW_TOKENS, eos_token_id=None, pad_token_id=0)
        width = max(len(b) for b in batch)
        padded = torch.tensor([[0] * (width - len(b)) + b for b in batch])
        mask = torch.tensor([[0] * (width - len(b)) + [1] * len(b) for b in batch])
        bg = model.generate(padded, attention_mask=mask, max_new_tokens=NEW_TOKENS, do_sample=False,
                            min_new_tokens=NEW_TOKENS, eos_token_id=None, pad_token_id=0)
    return {
        "hidden_states": [h[0].float().numpy() for h in out.hidden_states],
        "logits": out.logits[0].float().numpy(),
        "greedy": greedy[0, len(ids):].tolist(),
        "batch_greedy": [row[width:].tolist() for row in bg],
    }


def close(name, got, want, tol, failures):
    if got.shape != want.shape:
        failures.append(f"{name}: shape {got.shape} != {want.shape}")
        return
    err = np.abs(got - want) / np.maximum(1.0, np.abs(want))
    worst = float(err.max())
    if worst > tol:
        failures.append(f"{name}: max |delta|/max(1,|ref|) = {worst:.3g} > {tol}")


def check(arch, seed, dtype, work):
    torch.manual_seed(seed)
    cfg = draw_config(arch, seed)
    cfg._attn_implementation = "eager"
    model = transformers.AutoModelForCausalLM.from_config(cfg, attn_implementation="eager")
    randomize(model, seed)
    model.eval()
    d = os.path.join(work, f"{arch}-{seed}-{dtype}")
    if dtype == "bf16":
        model = model.to(torch.bfloat16)
    model.save_pretrained(d)
    # Reload in f32 (bf16 weights, f32 math: what the engine does). Converting the model in memory
    # instead would leave bf16-rounded buffers (rotary inv_freq, Gemma's embedding scale) behind.
    model = transformers.AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32,
                                                              attn_implementation="eager")
    model.eval()
    r = random.Random(seed)
    ids = [r.randrange(3, cfg.vocab_size) for _ in range(r.choice([9, 13, 17]))]
    batch = [ids[:5], [r.randrange(3, cfg.vocab_size) for _ in range(11)]]
    ref = reference(model, ids, batch)

    with open(os.path.join(d, "input.json"), "w") as f:
        json.dump({"ids": ids, "batch": batch, "new_tokens": NEW_TOKENS}, f)
    st, js = os.path.join(d, "out.safetensors"), os.path.join(d, "out.json")
    p = subprocess.run([BIN, DUMP, d, os.path.join(d, "input.json"), st, js],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return [f"seer-lua failed: {p.stderr.strip()}"], cfg
    ours = load_file(st)
    with open(js) as f:
        gen = json.load(f)
    tol = 1e-4 if dtype == "f32" else 2e-4
    failures = []
    n = len(ref["hidden_states"])
    for layer in range(n):
        close(f"hidden_states[{layer}]", ours.get(f"hidden_states.{layer}", np.zeros(0)),
              ref["hidden_states"][layer], tol, failures)
    close("logits", ours["logits"], ref["logits"], tol, failures)
    if gen["greedy"] != ref["greedy"]:
        failures.append(f"greedy {gen['greedy']} != HF {ref['greedy']}")
    if gen["batch_greedy"] != ref["batch_greedy"]:
        failures.append(f"batch greedy {gen['batch_greedy']} != HF {ref['batch_greedy']}")
    return failures, cfg


def main():
    archs = ["llama", "mistral", "gemma", "gemma2", "gemma3_text", "qwen2", "qwen3"]
    seeds = [int(s) for s in os.environ.get("SEER_REFERENCE_SEEDS", "1,2").split(",")]
    print(f"transformers {transformers.__version__}, torch {torch.__version__}, seer-lua {BIN}")
    bad = 0
    total = 0
    with tempfile.TemporaryDirectory(prefix="seer-reference-") as work:
        for arch in archs:
            for seed in seeds:
                for dtype in ("f32", "bf16"):
                    total += 1
                    failures, cfg = check(arch, seed, dtype, work)
                    desc = (f"L={cfg.num_hidden_layers} H={cfg.hidden_size} heads={cfg.num_attention_heads}"
                            f"/{cfg.num_key_value_heads} tied={cfg.tie_word_embeddings}")
                    if failures:
                        bad += 1
                        print(f"FAIL {arch} seed={seed} {dtype} ({desc})")
                        for f in failures:
                            print(f"     {f}")
                    else:
                        print(f"ok   {arch} seed={seed} {dtype} ({desc})")
    print(f"{total - bad} passed, {bad} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
