/* arch_llama.c: owns the Llama family's config rules: Llama 2/3 (llama3 rope scaling is parsed in
 * config.c) and Mistral (sliding window on every layer when set). */
#include <string.h>

#include "model_internal.h"

static const char *const names[] = {"LlamaForCausalLM", "MistralForCausalLM", NULL};

static int configure(const json_t *cfg, model_cfg *c, seer_error *err) {
  json_t *tie = json_object_get(cfg, "tie_word_embeddings");
  c->tie_embeddings = json_is_boolean(tie) ? json_is_true(tie) : 0;
  int mistral = !strcmp(c->info.architecture, "MistralForCausalLM");
  json_t *sw = json_object_get(cfg, "sliding_window");
  if (mistral && json_is_integer(sw) && json_integer_value(sw) > 0)
    memset(c->layer_sliding, 1, (size_t)c->info.num_layers);
  int rc = seer_cfg_layer_types(cfg, c, err);
  return rc < 0 ? rc : 0;
}

const seer_arch seer_arch_llama = {names, configure};
