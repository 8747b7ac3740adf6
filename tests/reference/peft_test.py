"""Reference tier: LoRA adapters in the engine against `peft` itself (PeftModel.from_pretrained on
HF transformers, f32, eager attention).
  - The two fixture adapters (tests/fixtures/peft) on their fixture base models.
  - Adapters made here with peft's get_peft_model on fixture base models of three families, with
    random (non-zero) A and B, covering what adapter_config.json can say: target names, a regex,
    "all-linear", layers_to_transform, rank_pattern/alpha_pattern, use_rslora, exclude_modules and
    modules_to_save (lm_head).
For each, the engine's hidden states and logits, unmerged and after merge_adapter, must be within
1e-4*max(1,|ref|) of PEFT's (the fixtures' tolerance for the engine against HF), and its greedy and
left-padded batch greedy tokens equal. It also prints how far PEFT's own unmerged forward is from
its merged one (merge_and_unload), which is the f32 noise the unmerged side path has anyway.
Run by `tools/test.sh --reference` (needs the venv's reference tier: torch, transformers, peft).
"""
import copy
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import peft
import torch
import transformers
from safetensors.numpy import load_file

transformers.utils.logging.disable_progress_bar()
BIN = os.environ["SEER_LUA_BIN"]
HERE = os.path.dirname(os.path.abspath(__file__))
DUMP = os.path.join(HERE, "peft_dump.lua")
FIX = os.environ.get("SEER_FIXTURES", os.path.join(HERE, "..", "fixtures"))
NEW_TOKENS = 8
TOL = 1e-4


def load_base(name):
    return transformers.AutoModelForCausalLM.from_pretrained(
        os.path.join(FIX, "models", name), dtype=torch.float32, attn_implementation="eager").eval()


def reference(model, ids, batch):
    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids]), output_hidden_states=True)
        greedy = model.generate(input_ids=torch.tensor([ids]), max_new_tokens=NEW_TOKENS,
                                do_sample=False, min_new_tokens=NEW_TOKENS, eos_token_id=None,
                                pad_token_id=0)
        width = max(len(b) for b in batch)
        padded = torch.tensor([[0] * (width - len(b)) + b for b in batch])
        mask = torch.tensor([[0] * (width - len(b)) + [1] * len(b) for b in batch])
        bg = model.generate(input_ids=padded, attention_mask=mask, max_new_tokens=NEW_TOKENS,
                            do_sample=False, min_new_tokens=NEW_TOKENS, eos_token_id=None,
                            pad_token_id=0)
    return {
        "hidden_states": [h[0].float().numpy() for h in out.hidden_states],
        "logits": out.logits[0].float().numpy(),
        "greedy": greedy[0, len(ids):].tolist(),
        "batch_greedy": [row[width:].tolist() for row in bg],
    }


def rel(got, want):
    return float((np.abs(got - want) / np.maximum(1.0, np.abs(want))).max())


def check(label, base_name, adapter_dir, failures):
    base = load_base(base_name)
    model = peft.PeftModel.from_pretrained(base, adapter_dir).eval()
    with open(os.path.join(FIX, "models", base_name, "reference.json")) as f:
        js = json.load(f)
    ids, batch = js["ids_a"], [js["ids_a"][:5], js["ids_b"]]
    ref = reference(model, ids, batch)
    merged = reference(copy.deepcopy(model).merge_and_unload(), ids, batch)
    noise = max(rel(a, b) for a, b in zip(ref["hidden_states"] + [ref["logits"]],
                                          merged["hidden_states"] + [merged["logits"]]))
    with tempfile.TemporaryDirectory(prefix="seer-peft-") as d:
        with open(os.path.join(d, "input.json"), "w") as f:
            json.dump({"ids": ids, "batch": batch, "new_tokens": NEW_TOKENS}, f)
        st, jo = os.path.join(d, "out.safetensors"), os.path.join(d, "out.json")
        p = subprocess.run([BIN, DUMP, os.path.join(FIX, "models", base_name), adapter_dir,
                            os.path.join(d, "input.json"), st, jo], capture_output=True, text=True)
        if p.returncode != 0:
            failures.append(f"{label}: seer-lua failed: {p.stderr.strip()}")
            return
        ours = load_file(st)
        with open(jo) as f:
            gen = json.load(f)
    worst = 0.0
    for mode in ("unmerged", "merged"):
        for layer, want in enumerate(ref["hidden_states"]):
            worst = max(worst, rel(ours[f"{mode}.hidden_states.{layer}"], want))
        worst = max(worst, rel(ours[f"{mode}.logits"], ref["logits"]))
        if gen[mode]["greedy"] != ref["greedy"]:
            failures.append(f"{label} {mode}: greedy {gen[mode]['greedy']} != peft {ref['greedy']}")
        if gen[mode]["batch_greedy"] != ref["batch_greedy"]:
            failures.append(f"{label} {mode}: batch greedy {gen[mode]['batch_greedy']} != peft "
                            f"{ref['batch_greedy']}")
    status = "ok  " if worst <= TOL else "FAIL"
    if worst > TOL:
        failures.append(f"{label}: max |delta|/max(1,|ref|) = {worst:.3g} > {TOL}")
    print(f"{status} {label}: engine vs peft {worst:.3g}; peft unmerged vs merged {noise:.3g}")


# Adapters made here: (label, base, LoraConfig arguments).
MADE = [
    ("llama names+layers", "llama", dict(r=3, lora_alpha=5, target_modules=["q_proj", "k_proj", "up_proj"],
                                         layers_to_transform=[1, 2])),
    ("llama regex+rslora", "llama", dict(r=4, lora_alpha=3, use_rslora=True,
                                         target_modules=r".*\.(v_proj|down_proj)")),
    ("gemma2 all-linear+exclude", "gemma2", dict(r=2, lora_alpha=4, target_modules="all-linear",
                                                 exclude_modules=["o_proj"])),
    ("gemma2 patterns", "gemma2", dict(r=2, lora_alpha=2, target_modules=["q_proj", "gate_proj"],
                                       rank_pattern={"q_proj": 5}, alpha_pattern={"gate_proj": 7})),
    ("qwen2 modules_to_save", "qwen2", dict(r=4, lora_alpha=8, target_modules=["q_proj", "o_proj"],
                                            modules_to_save=["lm_head"])),
]


def make_adapter(base_name, kwargs, seed, out):
    torch.manual_seed(seed)
    base = load_base(base_name)
    cfg = peft.LoraConfig(task_type="CAUSAL_LM", init_lora_weights=False, **kwargs)
    model = peft.get_peft_model(base, cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "modules_to_save" in name:
                p.mul_(0.5).add_(0.01 * torch.randn(p.shape))
    model.save_pretrained(out)


def main():
    print(f"peft {peft.__version__}, transformers {transformers.__version__}, torch {torch.__version__}")
    failures = []
    for name, base in (("llama-lora", "llama"), ("qwen3-rslora", "qwen3")):
        check(f"fixture {name}", base, os.path.join(FIX, "peft", name), failures)
    with tempfile.TemporaryDirectory(prefix="seer-peft-made-") as work:
        for i, (label, base, kwargs) in enumerate(MADE):
            out = os.path.join(work, str(i))
            make_adapter(base, kwargs, i + 1, out)
            check(label, base, out, failures)
    for f in failures:
        print(f"     {f}")
    print(f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
