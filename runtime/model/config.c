/* config.c: owns config.json parsing common to every family: sizes, eps, token ids, rope (both the
 * transformers v4 rope_theta/rope_scaling and v5 rope_parameters spellings), layer_types. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

static const seer_arch *const arches[] = {&seer_arch_llama, &seer_arch_gemma, &seer_arch_qwen};

const char *seer_model_supported_architectures(void) {
  return "LlamaForCausalLM, MistralForCausalLM, GemmaForCausalLM, Gemma2ForCausalLM, "
         "Gemma3ForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM";
}

/* A number that does not fit an int (config.json is downloaded: 1e30 or 2^40 are possible) reads as
 * INT_MIN, which every size check rejects, instead of wrapping or converting out of range. */
int seer_cfg_int(const json_t *cfg, const char *key, int def) {
  json_t *v = json_object_get(cfg, key);
  if (!v || json_is_null(v)) return def;
  if (json_is_integer(v)) {
    json_int_t i = json_integer_value(v);
    return i >= INT_MIN && i <= INT_MAX ? (int)i : INT_MIN;
  }
  if (json_is_real(v)) {
    double d = json_real_value(v);
    return d > (double)INT_MIN - 1 && d < (double)INT_MAX + 1 ? (int)d : INT_MIN;
  }
  return def;
}

double seer_cfg_num(const json_t *cfg, const char *key, double def) {
  json_t *v = json_object_get(cfg, key);
  if (!v || json_is_null(v)) return def;
  if (json_is_number(v)) return json_number_value(v);
  return def;
}

model_act seer_cfg_parse_act(const char *s, int *ok) {
  *ok = 1;
  if (!strcmp(s, "silu") || !strcmp(s, "swish")) return ACT_SILU;
  if (!strcmp(s, "gelu_pytorch_tanh") || !strcmp(s, "gelu_new") || !strcmp(s, "gelu_fast"))
    return ACT_GELU_TANH;
  if (!strcmp(s, "gelu")) return ACT_GELU;
  *ok = 0;
  return ACT_SILU;
}

int seer_cfg_layer_types(const json_t *cfg, model_cfg *c, seer_error *err) {
  json_t *lt = json_object_get(cfg, "layer_types");
  if (!json_is_array(lt)) return 0;
  if ((int)json_array_size(lt) != c->info.num_layers)
    return seer_errorf(err, SEER_EFORMAT, "config.json: layer_types has %zu entries for %d layers",
                       json_array_size(lt), c->info.num_layers);
  for (int i = 0; i < c->info.num_layers; i++) {
    const char *s = json_string_value(json_array_get(lt, (size_t)i));
    if (s && !strcmp(s, "sliding_attention"))
      c->layer_sliding[i] = 1;
    else if (s && !strcmp(s, "full_attention"))
      c->layer_sliding[i] = 0;
    else
      return seer_errorf(err, SEER_ENOTSUP,
                         "config.json: layer_types[%d] is '%s'; supported: full_attention, "
                         "sliding_attention",
                         i, s ? s : "(not a string)");
  }
  return 1;
}

/* Fills r from a v4 rope_scaling or a v5 rope_parameters object (theta given separately in v4). */
static int parse_rope(const json_t *o, double theta, rope_cfg *r, seer_error *err) {
  r->type = ROPE_DEFAULT;
  r->theta = theta;
  r->factor = 1;
  if (!o || json_is_null(o)) return 0;
  if (!json_is_object(o))
    return seer_errorf(err, SEER_EFORMAT, "config.json: rope settings must be an object");
  r->theta = seer_cfg_num(o, "rope_theta", theta);
  const char *type = json_string_value(json_object_get(o, "rope_type"));
  if (!type) type = json_string_value(json_object_get(o, "type"));
  if (!type || !strcmp(type, "default")) return 0;
  r->factor = seer_cfg_num(o, "factor", 1.0);
  if (!strcmp(type, "linear")) {
    r->type = ROPE_LINEAR;
  } else if (!strcmp(type, "llama3")) {
    r->type = ROPE_LLAMA3;
    r->low_freq_factor = seer_cfg_num(o, "low_freq_factor", 1.0);
    r->high_freq_factor = seer_cfg_num(o, "high_freq_factor", 4.0);
    r->original_max = seer_cfg_num(o, "original_max_position_embeddings", 8192);
  } else {
    return seer_errorf(err, SEER_ENOTSUP,
                       "config.json: rope type '%s' is not supported (default, linear, llama3)",
                       type);
  }
  return 0;
}

static int parse_rope_all(const json_t *cfg, model_cfg *c, seer_error *err) {
  double theta = seer_cfg_num(cfg, "rope_theta", 10000.0);
  json_t *rp = json_object_get(cfg, "rope_parameters");
  int rc;
  if (json_is_object(rp)) {
    /* v5: either one dict, or one per attention type (Gemma 3). */
    json_t *full = json_object_get(rp, "full_attention");
    json_t *sl = json_object_get(rp, "sliding_attention");
    if (json_is_object(full) || json_is_object(sl)) {
      if ((rc = parse_rope(full, theta, &c->rope_full, err))) return rc;
      return parse_rope(sl ? sl : full, theta, &c->rope_sliding, err);
    }
    if ((rc = parse_rope(rp, theta, &c->rope_full, err))) return rc;
    c->rope_sliding = c->rope_full;
    return 0;
  }
  if ((rc = parse_rope(json_object_get(cfg, "rope_scaling"), theta, &c->rope_full, err))) return rc;
  c->rope_sliding = c->rope_full;
  return 0;
}

static void parse_eos(const json_t *cfg, model_cfg *c) {
  json_t *e = json_object_get(cfg, "eos_token_id");
  c->info.num_eos = 0;
  if (json_is_integer(e)) {
    c->info.eos_token_ids[c->info.num_eos++] = (int)json_integer_value(e);
  } else if (json_is_array(e)) {
    for (size_t i = 0; i < json_array_size(e) && c->info.num_eos < 8; i++)
      if (json_is_integer(json_array_get(e, i)))
        c->info.eos_token_ids[c->info.num_eos++] = (int)json_integer_value(json_array_get(e, i));
  }
}

int seer_model_config_parse(const json_t *cfg, const char *path, model_cfg *c,
                            const seer_arch **arch_out, seer_error *err) {
  memset(c, 0, sizeof *c);
  json_t *archs = json_object_get(cfg, "architectures");
  const char *name = json_string_value(json_array_get(archs, 0));
  const seer_arch *arch = NULL;
  for (size_t i = 0; name && !arch && i < sizeof arches / sizeof arches[0]; i++)
    for (const char *const *n = arches[i]->names; *n; n++)
      if (!strcmp(*n, name)) arch = arches[i];
  if (!arch)
    return seer_errorf(err, SEER_ENOTSUP,
                       "%s: architecture '%s' is not supported; supported architectures: %s", path,
                       name ? name : "(none given)", seer_model_supported_architectures());
  snprintf(c->info.architecture, sizeof c->info.architecture, "%s", name);
  const char *mt = json_string_value(json_object_get(cfg, "model_type"));
  snprintf(c->info.model_type, sizeof c->info.model_type, "%s", mt ? mt : "");
  seer_model_info *in = &c->info;
  in->hidden_size = seer_cfg_int(cfg, "hidden_size", 0);
  in->num_layers = seer_cfg_int(cfg, "num_hidden_layers", 0);
  in->vocab_size = seer_cfg_int(cfg, "vocab_size", 0);
  in->intermediate_size = seer_cfg_int(cfg, "intermediate_size", 0);
  in->num_heads = seer_cfg_int(cfg, "num_attention_heads", 0);
  in->num_kv_heads = seer_cfg_int(cfg, "num_key_value_heads", in->num_heads);
  if (in->hidden_size <= 0 || in->num_layers <= 0 || in->vocab_size <= 0 ||
      in->intermediate_size <= 0 || in->num_heads <= 0 || in->num_kv_heads <= 0)
    return seer_errorf(err, SEER_EFORMAT,
                       "%s: hidden_size, num_hidden_layers, vocab_size, intermediate_size, "
                       "num_attention_heads and num_key_value_heads must be positive integers",
                       path);
  if (in->num_heads % in->num_kv_heads)
    return seer_errorf(err, SEER_EFORMAT,
                       "%s: num_attention_heads (%d) is not a multiple of num_key_value_heads (%d)",
                       path, in->num_heads, in->num_kv_heads);
  in->head_dim = seer_cfg_int(cfg, "head_dim", in->hidden_size / in->num_heads);
  if (in->head_dim <= 0 || in->head_dim % 2)
    return seer_errorf(err, SEER_EFORMAT, "%s: head_dim must be a positive even number", path);
  in->max_position_embeddings = seer_cfg_int(cfg, "max_position_embeddings", 4096);
  in->bos_token_id = seer_cfg_int(cfg, "bos_token_id", -1);
  in->pad_token_id = seer_cfg_int(cfg, "pad_token_id", -1);
  parse_eos(cfg, c);
  c->eps = seer_cfg_num(cfg, "rms_norm_eps", 1e-6);
  c->embed_scale = 1.0;
  c->attn_scale = 1.0 / sqrt((double)in->head_dim);
  c->layer_sliding = calloc((size_t)in->num_layers, 1);
  if (!c->layer_sliding) return seer_errorf(err, SEER_ENOMEM, "model: out of memory");
  int ok;
  const char *act = json_string_value(json_object_get(cfg, "hidden_act"));
  c->act = seer_cfg_parse_act(act ? act : "silu", &ok);
  if (!ok) return seer_errorf(err, SEER_ENOTSUP, "%s: hidden_act '%s' is not supported", path, act);
  int rc = parse_rope_all(cfg, c, err);
  if (rc) return rc;
  in->sliding_window = 0; /* families preset their default window */
  rc = arch->configure(cfg, c, err);
  if (rc) {
    seer_error_prefix(err, "%s", path);
    return rc;
  }
  int any = 0;
  for (int i = 0; i < in->num_layers; i++)
    any |= c->layer_sliding[i];
  in->sliding_window = any ? seer_cfg_int(cfg, "sliding_window", in->sliding_window) : 0;
  if (in->sliding_window <= 0) {
    memset(c->layer_sliding, 0, (size_t)in->num_layers);
    in->sliding_window = 0;
  }
  *arch_out = arch;
  return 0;
}

void seer_model_config_free(model_cfg *c) {
  free(c->layer_sliding);
  c->layer_sliding = NULL;
}
