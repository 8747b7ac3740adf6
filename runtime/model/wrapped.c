/* wrapped.c: owns "wrapped" text models: checkpoints whose config.json describes a multimodal
 * model (Gemma3ForConditionalGeneration: a vision tower, a projector and a language model) where
 * the language model is one of our transformers. The engine loads only the language model: its
 * nested text_config (with the defaults of HF's text config class filled in, as hub configs leave
 * most keys out) and its weights under the language model's prefix; the vision weights stay
 * unread. */
#include <stdio.h>
#include <string.h>

#include "model_internal.h"

typedef struct default_kv {
  const char *key;
  double value; /* NAN-free: every default here is a number */
} default_kv;

/* Gemma3TextConfig's defaults (transformers 4.50+) for the keys hub configs omit. */
static const default_kv gemma3_defaults[] = {{"vocab_size", 262208},
                                             {"hidden_size", 2304},
                                             {"intermediate_size", 9216},
                                             {"num_hidden_layers", 26},
                                             {"num_attention_heads", 8},
                                             {"num_key_value_heads", 4},
                                             {"head_dim", 256},
                                             {"query_pre_attn_scalar", 256},
                                             {"rms_norm_eps", 1e-6},
                                             {"rope_theta", 1000000.0},
                                             {"rope_local_base_freq", 10000.0},
                                             {"sliding_window", 4096},
                                             {"max_position_embeddings", 131072},
                                             {"sliding_window_pattern", 6},
                                             {NULL, 0}};

typedef struct wrapper {
  const char *name;      /* the checkpoint's architecture */
  const char *text_arch; /* the language model's */
  const default_kv *defaults;
} wrapper;

static const wrapper wrappers[] = {
    {"Gemma3ForConditionalGeneration", "Gemma3ForCausalLM", gemma3_defaults},
    {NULL, NULL, NULL},
};

/* Keys of the wrapper's top level the language model uses when its text_config lacks them. */
static const char *const inherited[] = {"eos_token_id", "bos_token_id", "pad_token_id",
                                        "tie_word_embeddings", NULL};

int seer_model_unwrap_config(json_t *cfg, const char *path, json_t **text_out, int *wrapped,
                             seer_error *err) {
  *text_out = NULL;
  *wrapped = 0;
  const char *name = json_string_value(json_array_get(json_object_get(cfg, "architectures"), 0));
  const wrapper *w = NULL;
  for (const wrapper *x = wrappers; name && x->name; x++)
    if (!strcmp(x->name, name)) w = x;
  if (!w) {
    *text_out = json_incref(cfg);
    return 0;
  }
  json_t *tc = json_object_get(cfg, "text_config");
  if (!json_is_object(tc))
    return seer_errorf(err, SEER_EFORMAT, "%s: %s needs a text_config object", path, name);
  json_t *t = json_deep_copy(tc);
  if (!t) return seer_errorf(err, SEER_ENOMEM, "model: out of memory");
  for (const default_kv *d = w->defaults; d->key; d++)
    if (!json_object_get(t, d->key)) {
      double v = d->value;
      json_object_set_new(t, d->key,
                          v == (double)(json_int_t)v ? json_integer((json_int_t)v) : json_real(v));
    }
  for (const char *const *k = inherited; *k; k++)
    if (!json_object_get(t, *k) && json_object_get(cfg, *k))
      json_object_set(t, *k, json_object_get(cfg, *k));
  json_t *archs = json_array();
  json_array_append_new(archs, json_string(w->text_arch));
  json_object_set_new(t, "architectures", archs);
  *text_out = t;
  *wrapped = 1;
  return 0;
}

/* Where the language model's weights live, by the embedding's name: transformers v4 checkpoints of
 * wrapped models use language_model.model.*, v5 ones model.language_model.*. */
void seer_model_weight_prefix(const seer_safetensors *st, model_prefix *p) {
  static const model_prefix layouts[] = {
      {"model.", "lm_head.weight"},
      {"language_model.model.", "language_model.lm_head.weight"},
      {"model.language_model.", "lm_head.weight"},
  };
  *p = layouts[0];
  for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
    char name[128];
    snprintf(name, sizeof name, "%sembed_tokens.weight", layouts[i].body);
    if (seer_st_find(st, name)) {
      *p = layouts[i];
      return;
    }
  }
}
