/* lora_config.c: owns adapter_config.json: reading it (a hostile file: size-capped, every field
 * type-checked, every value this engine does not run refused by name) and PEFT's rules for which
 * modules an adapter targets (names or a full-match regex, layers_to_transform with
 * layers_pattern, exclude_modules), their rank and alpha (rank_pattern, alpha_pattern) and which
 * modules it replaces (modules_to_save). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lora_internal.h"

#define CONFIG_MAX_BYTES (1u << 20)
#define PATTERN_MAX_BYTES 256
/* Steps one match of a file's regex against a module name may take; names are ~40 bytes, so any
 * sensible pattern needs a few hundred, and a catastrophically backtracking one is refused. */
#define MATCH_LIMIT 100000

static int field_error(const lora_cfg *c, seer_error *err, int code, const char *field,
                       const char *what) {
  return seer_errorf(err, code, "%s: %s %s", c->path, field, what);
}

/* Compiles a Python `re` pattern from the config. Python's syntax and PCRE2's agree on what PEFT
 * configs use (alternation, classes, groups, repetition). */
static int compile(const lora_cfg *c, const char *field, const char *pat, pcre2_code **out,
                   seer_error *err) {
  int ec;
  PCRE2_SIZE eo;
  *out = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &ec, &eo, NULL);
  if (!*out) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(ec, msg, sizeof msg);
    return seer_errorf(err, SEER_EFORMAT, "%s: %s: regex /%.200s/ does not compile: %s", c->path,
                       field, pat, (char *)msg);
  }
  return 0;
}

/* Anchored at the start (Python's re.match), and at the end too when full (re.fullmatch). When
 * group1 is given, it receives the first group as an integer (-1 when it is not one). */
static int re_match(lora_cfg *c, const pcre2_code *re, const char *s, int full, long *group1) {
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
  if (!md) {
    c->regex_failed = 1;
    return 0;
  }
  uint32_t opts = PCRE2_ANCHORED | (full ? PCRE2_ENDANCHORED : 0);
  int rc = pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, opts, md, c->mctx);
  if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) c->regex_failed = 1;
  if (rc > 1 && group1) {
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    *group1 = -1;
    if (ov[2] != PCRE2_UNSET && ov[3] - ov[2] > 0 && ov[3] - ov[2] < 10) {
      char num[12];
      memcpy(num, s + ov[2], ov[3] - ov[2]);
      num[ov[3] - ov[2]] = 0;
      char *end;
      long v = strtol(num, &end, 10);
      if (!*end) *group1 = v;
    }
  }
  pcre2_match_data_free(md);
  return rc > 0;
}

static int ends_with_module(const char *name, const char *key) {
  size_t n = strlen(name), k = strlen(key);
  if (!strcmp(name, key)) return 1;
  return n > k && name[n - k - 1] == '.' && !strcmp(name + n - k, key);
}

/* A list of strings, or a string (a regex); NULL and an empty list mean none. */
static int names_or_regex(lora_cfg *c, const char *field, json_t *v, json_t **list, pcre2_code **re,
                          seer_error *err) {
  *list = NULL;
  *re = NULL;
  if (!v || json_is_null(v)) return 0;
  if (json_is_string(v)) return compile(c, field, json_string_value(v), re, err);
  if (!json_is_array(v))
    return field_error(c, err, SEER_EFORMAT, field, "must be a list of module names or a regex");
  size_t i;
  json_t *e;
  json_array_foreach(v, i, e) {
    if (!json_is_string(e))
      return field_error(c, err, SEER_EFORMAT, field, "must list module names (strings)");
  }
  *list = json_array_size(v) ? v : NULL;
  return 0;
}

static int bool_field(lora_cfg *c, const char *field, int def, int *out, seer_error *err) {
  json_t *v = json_object_get(c->root, field);
  *out = def;
  if (!v || json_is_null(v)) return 0;
  if (!json_is_boolean(v)) return field_error(c, err, SEER_EFORMAT, field, "must be true or false");
  *out = json_is_true(v);
  return 0;
}

/* Fields whose non-default values change what the adapter computes in ways this engine does not
 * run: each must be absent, null, false or empty. */
static const struct {
  const char *field, *why;
} unsupported[] = {
    {"use_dora", "is set: DoRA adapters are not supported (only plain LoRA)"},
    {"lora_bias", "is set: LoRA biases are not supported"},
    {"layer_replication", "is set: layer replication is not supported"},
    {"target_parameters", "is set: LoRA on parameters (MoE experts) is not supported"},
    {"trainable_token_indices", "is set: trainable token rows are not supported"},
    {"alora_invocation_tokens", "is set: activated LoRA (aLoRA) is not supported"},
    {"megatron_config", "is set: Megatron-parallel adapters are not supported"},
    {"use_qalora", "is set: QALoRA is not supported"},
};

static int is_unset(json_t *v) {
  return !v || json_is_null(v) || json_is_false(v) ||
         (json_is_array(v) && json_array_size(v) == 0) ||
         (json_is_object(v) && json_object_size(v) == 0);
}

/* rank_pattern / alpha_pattern: keys compiled once as PEFT's get_pattern_key uses them. */
static int pattern_map(lora_cfg *c, const char *field, int want_int, lora_pattern **out, size_t *n,
                       seer_error *err) {
  json_t *v = json_object_get(c->root, field);
  if (!v || json_is_null(v)) return 0;
  if (!json_is_object(v))
    return field_error(c, err, SEER_EFORMAT, field, "must map module patterns to numbers");
  *out = calloc(json_object_size(v) + 1, sizeof **out);
  if (!*out) return seer_errorf(err, SEER_ENOMEM, "%s: out of memory", c->path);
  const char *k;
  json_t *e;
  json_object_foreach(v, k, e) {
    int ok = want_int
                 ? json_is_integer(e) && json_integer_value(e) > 0 && json_integer_value(e) <= 65536
                 : json_is_number(e) && isfinite(json_number_value(e));
    if (!ok)
      return seer_errorf(err, SEER_EFORMAT, "%s: %s['%.100s'] must be %s", c->path, field, k,
                         want_int ? "a rank (an integer in 1..65536)" : "a finite number");
    if (strlen(k) > PATTERN_MAX_BYTES)
      return seer_errorf(err, SEER_EFORMAT, "%s: %s has a key longer than %d bytes", c->path, field,
                         PATTERN_MAX_BYTES);
    char pat[PATTERN_MAX_BYTES + 16];
    snprintf(pat, sizeof pat, "(.*\\.)?(%s)$", k);
    if (compile(c, field, pat, &(*out)[*n].re, err)) return err ? err->code : SEER_EFORMAT;
    (*out)[(*n)++].value = json_number_value(e);
  }
  return 0;
}

static int parse(lora_cfg *c, seer_error *err) {
  json_t *root = c->root;
  if (!json_is_object(root))
    return seer_errorf(err, SEER_EFORMAT, "%s: not a JSON object", c->path);
  json_t *pt = json_object_get(root, "peft_type");
  if (!json_is_string(pt))
    return field_error(c, err, SEER_EFORMAT, "peft_type", "is missing (expected \"LORA\")");
  if (strcmp(json_string_value(pt), "LORA"))
    return seer_errorf(err, SEER_ENOTSUP,
                       "%s: peft_type \"%.64s\" is not supported (only LoRA adapters, \"LORA\")",
                       c->path, json_string_value(pt));
  json_t *tt = json_object_get(root, "task_type");
  if (tt && !json_is_null(tt) &&
      (!json_is_string(tt) || strcmp(json_string_value(tt), "CAUSAL_LM")))
    return seer_errorf(err, SEER_ENOTSUP,
                       "%s: task_type %.64s is not supported (only CAUSAL_LM adapters)", c->path,
                       json_is_string(tt) ? json_string_value(tt) : "(not a string)");
  for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
    if (!is_unset(json_object_get(root, unsupported[i].field)))
      return field_error(c, err, SEER_ENOTSUP, unsupported[i].field, unsupported[i].why);
  json_t *bias = json_object_get(root, "bias");
  if (bias && !json_is_null(bias) &&
      (!json_is_string(bias) || strcmp(json_string_value(bias), "none")))
    return field_error(c, err, SEER_ENOTSUP, "bias",
                       "is not \"none\": adapters that train biases are not supported");
  json_t *r = json_object_get(root, "r");
  if (!json_is_integer(r) || json_integer_value(r) < 1 || json_integer_value(r) > 65536)
    return field_error(c, err, SEER_EFORMAT, "r", "must be an integer in 1..65536");
  c->r = (int)json_integer_value(r);
  json_t *alpha = json_object_get(root, "lora_alpha");
  if (alpha && !json_is_null(alpha) &&
      (!json_is_number(alpha) || !isfinite(json_number_value(alpha))))
    return field_error(c, err, SEER_EFORMAT, "lora_alpha", "must be a finite number");
  c->alpha = alpha && json_is_number(alpha) ? json_number_value(alpha) : 8.0; /* PEFT's default */
  int rc, fifo;
  if ((rc = bool_field(c, "use_rslora", 0, &c->rslora, err))) return rc;
  /* PEFT turns fan_in_fan_out off for nn.Linear targets (every target here is one), so the stored
   * A and B have the usual [r, in] and [out, r] layout either way. */
  if ((rc = bool_field(c, "fan_in_fan_out", 0, &fifo, err))) return rc;
  json_t *bm = json_object_get(root, "base_model_name_or_path");
  c->base_model = json_is_string(bm) ? json_string_value(bm) : "";
  json_t *tm = json_object_get(root, "target_modules");
  if (json_is_string(tm) && !strcmp(json_string_value(tm), "all-linear")) {
    c->target_list_all_linear = "all-linear";
  } else {
    if ((rc = names_or_regex(c, "target_modules", tm, &c->target_list, &c->target_re, err)))
      return rc;
    if (!c->target_list && !c->target_re)
      return field_error(c, err, SEER_EFORMAT, "target_modules", "is missing or empty");
  }
  if ((rc = names_or_regex(c, "exclude_modules", json_object_get(root, "exclude_modules"),
                           &c->exclude_list, &c->exclude_re, err)))
    return rc;
  json_t *lt = json_object_get(root, "layers_to_transform");
  if (json_is_integer(lt)) {
    c->layers = malloc(sizeof(int));
    if (!c->layers) return seer_errorf(err, SEER_ENOMEM, "%s: out of memory", c->path);
    c->layers[0] = (int)json_integer_value(lt);
    c->num_layers = 1;
  } else if (json_is_array(lt) && json_array_size(lt) > 0) {
    c->layers = malloc(sizeof(int) * json_array_size(lt));
    if (!c->layers) return seer_errorf(err, SEER_ENOMEM, "%s: out of memory", c->path);
    size_t i;
    json_t *e;
    json_array_foreach(lt, i, e) {
      if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > 1000000)
        return field_error(c, err, SEER_EFORMAT, "layers_to_transform",
                           "must be a layer index or a list of them");
      c->layers[c->num_layers++] = (int)json_integer_value(e);
    }
  } else if (lt && !json_is_null(lt) && !(json_is_array(lt) && json_array_size(lt) == 0)) {
    return field_error(c, err, SEER_EFORMAT, "layers_to_transform",
                       "must be a layer index or a list of them");
  }
  json_t *lp = json_object_get(root, "layers_pattern");
  size_t nlp = json_is_string(lp) ? 1 : json_is_array(lp) ? json_array_size(lp) : 0;
  if (lp && !json_is_null(lp) && !json_is_string(lp) && !json_is_array(lp))
    return field_error(c, err, SEER_EFORMAT, "layers_pattern", "must be a name or a list of names");
  if (nlp && c->layers) {
    c->layer_res = calloc(nlp, sizeof *c->layer_res);
    if (!c->layer_res) return seer_errorf(err, SEER_ENOMEM, "%s: out of memory", c->path);
    for (size_t i = 0; i < nlp; i++) {
      json_t *e = json_is_string(lp) ? lp : json_array_get(lp, i);
      if (!json_is_string(e))
        return field_error(c, err, SEER_EFORMAT, "layers_pattern", "must list names");
      if (json_string_length(e) > PATTERN_MAX_BYTES)
        return seer_errorf(err, SEER_EFORMAT, "%s: layers_pattern has a name longer than %d bytes",
                           c->path, PATTERN_MAX_BYTES);
      char pat[PATTERN_MAX_BYTES + 16];
      snprintf(pat, sizeof pat, ".*\\.%s\\.(\\d+)\\.", json_string_value(e));
      if ((rc = compile(c, "layers_pattern", pat, &c->layer_res[i], err))) return rc;
      c->num_layer_res++;
    }
  }
  if ((rc = pattern_map(c, "rank_pattern", 1, &c->rank_pats, &c->num_rank_pats, err)) ||
      (rc = pattern_map(c, "alpha_pattern", 0, &c->alpha_pats, &c->num_alpha_pats, err)) ||
      (rc = compile(c, "layers_to_transform", ".*\\.[^.]*\\.(\\d+)\\.", &c->any_layer_re, err)))
    return rc;
  c->mctx = pcre2_match_context_create(NULL);
  if (!c->mctx) return seer_errorf(err, SEER_ENOMEM, "%s: out of memory", c->path);
  pcre2_set_match_limit(c->mctx, MATCH_LIMIT);
  pcre2_set_depth_limit(c->mctx, MATCH_LIMIT);
  json_t *ms = json_object_get(root, "modules_to_save");
  if (ms && !json_is_null(ms)) {
    if (!json_is_array(ms))
      return field_error(c, err, SEER_EFORMAT, "modules_to_save", "must be a list of names");
    size_t i;
    json_t *e;
    json_array_foreach(ms, i, e) {
      if (!json_is_string(e))
        return field_error(c, err, SEER_EFORMAT, "modules_to_save", "must list module names");
    }
    c->modules_to_save = json_array_size(ms) ? ms : NULL;
  }
  return 0;
}

int lora_cfg_parse(const char *text, size_t n, const char *path, lora_cfg *c, seer_error *err) {
  memset(c, 0, sizeof *c);
  c->path = path;
  if (n > CONFIG_MAX_BYTES)
    return seer_errorf(err, SEER_EFORMAT, "%s: larger than %u bytes; not an adapter config", path,
                       CONFIG_MAX_BYTES);
  json_error_t jerr;
  c->root = json_loadb(text, n, JSON_REJECT_DUPLICATES, &jerr);
  if (!c->root)
    return seer_errorf(err, SEER_EFORMAT, "%s: invalid JSON (line %d column %d: %s)", path,
                       jerr.line, jerr.column, jerr.text);
  int rc = parse(c, err);
  if (rc) lora_cfg_free(c);
  return rc;
}

int lora_cfg_load(const char *path, lora_cfg *c, seer_error *err) {
  memset(c, 0, sizeof *c);
  FILE *f = fopen(path, "rb");
  if (!f)
    return seer_error_errno(err, SEER_EIO, errno, "%s: cannot open (is this a PEFT adapter?)",
                            path);
  char *text = malloc(CONFIG_MAX_BYTES + 1);
  size_t n = text ? fread(text, 1, CONFIG_MAX_BYTES + 1, f) : 0;
  fclose(f);
  if (!text) return seer_errorf(err, SEER_ENOMEM, "%s: out of memory", path);
  int rc = lora_cfg_parse(text, n, path, c, err);
  free(text);
  return rc;
}

static void free_patterns(lora_pattern *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    pcre2_code_free(p[i].re);
  free(p);
}

void lora_cfg_free(lora_cfg *c) {
  free_patterns(c->rank_pats, c->num_rank_pats);
  free_patterns(c->alpha_pats, c->num_alpha_pats);
  if (c->any_layer_re) pcre2_code_free(c->any_layer_re);
  if (c->mctx) pcre2_match_context_free(c->mctx);
  if (c->target_re) pcre2_code_free(c->target_re);
  if (c->exclude_re) pcre2_code_free(c->exclude_re);
  for (size_t i = 0; i < c->num_layer_res; i++)
    pcre2_code_free(c->layer_res[i]);
  free(c->layer_res);
  free(c->layers);
  json_decref(c->root);
  memset(c, 0, sizeof *c);
}

static int in_list(const json_t *list, const char *name) {
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e) {
    if (ends_with_module(name, json_string_value(e))) return 1;
  }
  return 0;
}

/* PEFT's check_target_module_exists: a regex must match the whole name; a list entry matches the
 * name or its last components, and only then do layers_to_transform apply. */
int lora_cfg_is_target(lora_cfg *c, const char *name, int linear) {
  if (c->exclude_re && re_match(c, c->exclude_re, name, 1, NULL)) return 0;
  if (c->exclude_list && in_list(c->exclude_list, name)) return 0;
  if (c->target_list_all_linear) return linear;
  if (c->target_re) return re_match(c, c->target_re, name, 1, NULL);
  size_t i;
  json_t *e;
  json_array_foreach(c->target_list, i, e) {
    if (!strcmp(name, json_string_value(e))) return 1;
  }
  if (!in_list(c->target_list, name)) return 0;
  if (!c->layers) return 1;
  long layer = -1;
  int found = 0;
  if (!c->num_layer_res) {
    found = re_match(c, c->any_layer_re, name, 0, &layer);
  } else {
    for (size_t k = 0; k < c->num_layer_res && !found; k++)
      found = re_match(c, c->layer_res[k], name, 0, &layer);
  }
  if (!found || layer < 0) return 0;
  for (size_t k = 0; k < c->num_layers; k++)
    if (c->layers[k] == layer) return 1;
  return 0;
}

/* PEFT's get_pattern_key: the first key (in the file's order) with re.match("(.*\.)?(key)$"). */
static const lora_pattern *pattern_for(lora_cfg *c, const lora_pattern *p, size_t n,
                                       const char *name) {
  for (size_t i = 0; i < n; i++)
    if (re_match(c, p[i].re, name, 0, NULL)) return &p[i];
  return NULL;
}

void lora_cfg_rank_alpha(lora_cfg *c, const char *name, int *r, double *alpha) {
  const lora_pattern *rp = pattern_for(c, c->rank_pats, c->num_rank_pats, name);
  const lora_pattern *ap = pattern_for(c, c->alpha_pats, c->num_alpha_pats, name);
  *r = rp ? (int)rp->value : c->r;
  *alpha = ap ? ap->value : c->alpha;
}

int lora_cfg_saves(const lora_cfg *c, const char *name) {
  if (!c->modules_to_save) return 0;
  size_t i, n = strlen(name);
  json_t *e;
  json_array_foreach(c->modules_to_save, i, e) {
    size_t k = json_string_length(e);
    if (k > 0 && k <= n && !memcmp(name + n - k, json_string_value(e), k)) return 1;
  }
  return 0;
}
