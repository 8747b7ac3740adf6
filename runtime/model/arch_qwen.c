/* arch_qwen.c: owns the Qwen family's config rules: Qwen2 (q/k/v bias, found from the weights) and
 * Qwen3 (q/k norms); sliding windows apply from max_window_layers on when use_sliding_window. */
#include <string.h>

#include "model_internal.h"

static const char *const names[] = {"Qwen2ForCausalLM", "Qwen3ForCausalLM", NULL};

static int configure(const json_t *cfg, model_cfg *c, seer_error *err) {
  json_t *tie = json_object_get(cfg, "tie_word_embeddings");
  c->tie_embeddings = json_is_boolean(tie) ? json_is_true(tie) : 0;
  c->qk_norm = !strcmp(c->info.architecture, "Qwen3ForCausalLM");
  if (json_is_true(json_object_get(cfg, "use_sliding_window"))) {
    int from = seer_cfg_int(cfg, "max_window_layers", c->info.num_layers);
    for (int i = from < 0 ? 0 : from; i < c->info.num_layers; i++)
      c->layer_sliding[i] = 1;
    c->info.sliding_window = 4096;
  }
  int rc = seer_cfg_layer_types(cfg, c, err);
  return rc < 0 ? rc : 0;
}

const seer_arch seer_arch_qwen = {names, configure};
