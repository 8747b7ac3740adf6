/* arch_gemma.c: owns the Gemma family's config rules: (1+w) norms and √H embedding scaling for all;
 * Gemma 2/3 sandwich norms, query_pre_attn_scalar, softcaps and alternating sliding layers; Gemma 3
 * q/k norms and separate local/global rope bases. Defaults follow HF's config classes. */
#include <math.h>
#include <string.h>

#include "model_internal.h"

static const char *const names[] = {"GemmaForCausalLM", "Gemma2ForCausalLM", "Gemma3ForCausalLM",
                                    NULL};

static int configure(const json_t *cfg, model_cfg *c, seer_error *err) {
  int v2 = !strcmp(c->info.architecture, "Gemma2ForCausalLM");
  int v3 = !strcmp(c->info.architecture, "Gemma3ForCausalLM");
  json_t *tie = json_object_get(cfg, "tie_word_embeddings");
  c->tie_embeddings = json_is_boolean(tie) ? json_is_true(tie) : 1;
  c->norm_plus_one = 1;
  c->embed_scale = sqrt((double)c->info.hidden_size);
  /* HF Gemma uses hidden_activation; a missing one means the tanh GELU, whatever hidden_act says.
   */
  const char *act = json_string_value(json_object_get(cfg, "hidden_activation"));
  int ok = 1;
  c->act = act ? seer_cfg_parse_act(act, &ok) : ACT_GELU_TANH;
  if (!ok) return seer_errorf(err, SEER_ENOTSUP, "hidden_activation '%s' is not supported", act);
  if (!v2 && !v3) {
    int rc = seer_cfg_layer_types(cfg, c, err);
    return rc < 0 ? rc : 0;
  }
  c->sandwich_norms = 1;
  c->qk_norm = v3;
  c->attn_scale = 1.0 / sqrt(seer_cfg_num(cfg, "query_pre_attn_scalar", 256));
  /* A key that is absent takes HF's default; an explicit null turns the cap off. */
  json_t *ac = json_object_get(cfg, "attn_logit_softcapping");
  json_t *fc = json_object_get(cfg, "final_logit_softcapping");
  c->attn_softcap = ac ? seer_cfg_num(cfg, "attn_logit_softcapping", 0) : (v2 ? 50.0 : 0);
  c->final_softcap = fc ? seer_cfg_num(cfg, "final_logit_softcapping", 0) : (v2 ? 30.0 : 0);
  c->info.sliding_window = 4096;
  int pattern = v2 ? 2 : seer_cfg_int(cfg, "sliding_window_pattern", 6);
  for (int i = 0; i < c->info.num_layers; i++)
    c->layer_sliding[i] = pattern > 0 && ((i + 1) % pattern) != 0;
  int rc = seer_cfg_layer_types(cfg, c, err);
  if (rc < 0) return rc;
  if (v3 && !json_object_get(cfg, "rope_parameters")) {
    /* v4 spelling: rope_theta (default 1e6) and rope_scaling serve global layers; local layers use
     * rope_local_base_freq with no scaling. */
    if (!json_object_get(cfg, "rope_theta")) c->rope_full.theta = 1000000.0;
    memset(&c->rope_sliding, 0, sizeof c->rope_sliding);
    c->rope_sliding.type = ROPE_DEFAULT;
    c->rope_sliding.factor = 1;
    c->rope_sliding.theta = seer_cfg_num(cfg, "rope_local_base_freq", 10000.0);
  }
  return 0;
}

const seer_arch seer_arch_gemma = {names, configure};
