/* fuzz_adapter_config.c: adapter_config.json (downloaded with an adapter, so hostile) through
 * PEFT's rules as lora_config.c runs them: field checks, regexes compiled from the file
 * (target_modules, exclude_modules, layers_pattern, rank_pattern and alpha_pattern keys), and the
 * matching of every module name of a small model against them. */
#include <stdint.h>
#include <stdio.h>

#include "../../runtime/model/lora_internal.h"

static const char *const modules[] = {"model.embed_tokens",
                                      "lm_head",
                                      "model.layers.0.self_attn.q_proj",
                                      "model.layers.1.self_attn.k_proj",
                                      "model.layers.2.self_attn.v_proj",
                                      "model.layers.3.self_attn.o_proj",
                                      "model.layers.0.mlp.gate_proj",
                                      "model.layers.11.mlp.up_proj",
                                      "model.layers.2.mlp.down_proj"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lora_cfg c;
  seer_error err = {0};
  if (lora_cfg_parse((const char *)data, size, "adapter_config.json", &c, &err)) return 0;
  for (size_t i = 0; i < sizeof modules / sizeof modules[0]; i++) {
    int r;
    double alpha;
    if (lora_cfg_is_target(&c, modules[i], i >= 2)) lora_cfg_rank_alpha(&c, modules[i], &r, &alpha);
    lora_cfg_saves(&c, modules[i]);
  }
  lora_cfg_free(&c);
  return 0;
}
