/* tok_load.c: owns building a seer_tokenizer from tokenizer.json and tokenizer_config.json:
 * file/directory resolution, component wiring, added tokens and config defaults. */
#include "tok_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Maps the file read-only: tokenizer.json can be tens of MB and is only scanned once. */
static int map_file(const char *path, char **out, size_t *len, seer_error *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return seer_error_errno(err, SEER_EIO, errno, "cannot open %s", path);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return seer_error_errno(err, SEER_EIO, e, "cannot stat %s", path);
  }
  *len = (size_t)st.st_size;
  *out = NULL;
  if (*len) {
    void *p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      close(fd);
      return seer_error_errno(err, SEER_EIO, e, "cannot map %s", path);
    }
    *out = p;
  }
  close(fd);
  return SEER_OK;
}

static void unmap_file(char *p, size_t len) {
  if (p) munmap(p, len);
}

int seer_tokenizer_load(const char *path, seer_tokenizer **out, seer_error *err) {
  *out = NULL;
  struct stat st;
  if (stat(path, &st) != 0) return seer_error_errno(err, SEER_EIO, errno, "tokenizer %s", path);
  seer_buf json_path = SEER_BUF_INIT, cfg_path = SEER_BUF_INIT;
  int rc = SEER_OK;
  if (S_ISDIR(st.st_mode)) {
    rc = seer_buf_printf(&json_path, "%s/tokenizer.json", path) ||
         seer_buf_printf(&cfg_path, "%s/tokenizer_config.json", path);
  } else {
    const char *slash = strrchr(path, '/');
    rc =
        seer_buf_appends(&json_path, path) ||
        (slash ? seer_buf_printf(&cfg_path, "%.*s/tokenizer_config.json", (int)(slash - path), path)
               : seer_buf_appends(&cfg_path, "tokenizer_config.json"));
  }
  if (rc || seer_buf_terminate(&json_path) || seer_buf_terminate(&cfg_path)) {
    seer_buf_free(&json_path);
    seer_buf_free(&cfg_path);
    return seer_errorf(err, SEER_ENOMEM, "out of memory");
  }
  char *json = NULL, *cfg = NULL;
  size_t json_len = 0, cfg_len = 0;
  bool have_cfg = access(cfg_path.data, F_OK) == 0;
  rc = map_file(json_path.data, &json, &json_len, err);
  if (!rc && have_cfg) rc = map_file(cfg_path.data, &cfg, &cfg_len, err);
  if (!rc)
    rc = seer_tokenizer_load_buffer(json ? json : "", json_len, have_cfg ? (cfg ? cfg : "") : NULL,
                                    cfg_len, out, err);
  if (rc) seer_error_prefix(err, "%s", json_path.data);
  unmap_file(json, json_len);
  unmap_file(cfg, cfg_len);
  seer_buf_free(&json_path);
  seer_buf_free(&cfg_path);
  return rc;
}

/* Parses tokenizer.json minus model.vocab and model.merges, which are blanked out of the text
 * handed to jansson and read by the fast scanner instead. */
static json_t *parse_skeleton(const char *s, size_t len, tok_jspan v, tok_jspan m,
                              seer_error *err) {
  tok_jspan spans[2] = {v, m};
  const char *repl[2] = {"{}", "[]"};
  if (spans[1].start < spans[0].start) {
    tok_jspan t = spans[0];
    spans[0] = spans[1];
    spans[1] = t;
    repl[0] = "[]";
    repl[1] = "{}";
  }
  seer_buf b = SEER_BUF_INIT;
  size_t at = 0;
  for (int i = 0; i < 2; i++) {
    if (spans[i].end == spans[i].start) continue;
    if (seer_buf_append(&b, s + at, spans[i].start - at) || seer_buf_appends(&b, repl[i])) goto oom;
    at = spans[i].end;
  }
  if (seer_buf_append(&b, s + at, len - at)) goto oom;
  json_error_t je;
  json_t *root = json_loadb(b.data, b.len, JSON_ALLOW_NUL, &je);
  seer_buf_free(&b);
  if (!root) seer_errorf(err, SEER_EFORMAT, "tokenizer.json is not valid JSON: %s", je.text);
  return root;
oom:
  seer_buf_free(&b);
  seer_errorf(err, SEER_ENOMEM, "out of memory");
  return NULL;
}

static int load_added(seer_tokenizer *tok, json_t *arr, seer_error *err) {
  if (!arr || json_is_null(arr)) return SEER_OK;
  if (!json_is_array(arr))
    return seer_errorf(err, SEER_EFORMAT, "tokenizer.json: added_tokens must be an array");
  size_t n = json_array_size(arr);
  size_t id_limit = tok->bpe.vocab.count + n;
  tok->added = calloc(n + 1, sizeof *tok->added);
  if (!tok->added || tok_strtab_init(&tok->added_map, n + 1, 64))
    return seer_errorf(err, SEER_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    json_t *t = json_array_get(arr, i);
    json_t *id = json_object_get(t, "id"), *content = json_object_get(t, "content");
    if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) > INT32_MAX ||
        !json_is_string(content))
      return seer_errorf(err, SEER_EFORMAT,
                         "tokenizer.json: added_tokens[%zu] needs an integer id and a string "
                         "content",
                         i);
    /* The id indexes added_by_id (sized by the largest id): bound it by the file's entries. */
    if ((uint64_t)json_integer_value(id) >= id_limit)
      return seer_errorf(err, SEER_EFORMAT,
                         "tokenizer.json: added_tokens[%zu] id %lld is out of range: ids must be "
                         "below %zu, the number of vocab entries plus added_tokens; the file is "
                         "corrupt or hostile",
                         i, (long long)json_integer_value(id), id_limit);
    tok_added *a = &tok->added[tok->nadded];
    a->id = (int32_t)json_integer_value(id);
    a->len = json_string_length(content);
    a->content = malloc(a->len + 1);
    if (!a->content) return seer_errorf(err, SEER_ENOMEM, "out of memory");
    memcpy(a->content, json_string_value(content), a->len + 1);
    a->special = json_is_true(json_object_get(t, "special"));
    a->lstrip = json_is_true(json_object_get(t, "lstrip"));
    a->rstrip = json_is_true(json_object_get(t, "rstrip"));
    a->single_word = json_is_true(json_object_get(t, "single_word"));
    json_t *norm = json_object_get(t, "normalized");
    /* AddedToken's serde default for normalized is true unless special. */
    a->normalized = json_is_boolean(norm) ? json_is_true(norm) : !a->special;
    if (tok_strtab_set(&tok->added_map, a->content, a->len, (uint32_t)tok->nadded))
      return seer_errorf(err, SEER_ENOMEM, "out of memory");
    tok->nadded++;
  }
  return SEER_OK;
}

static int build_tries(seer_tokenizer *tok, seer_error *err) {
  size_t n = tok->nadded;
  char **pat = calloc(n + 1, sizeof *pat);
  size_t *plen = calloc(n + 1, sizeof *plen);
  int rc = SEER_OK;
  if (!pat || !plen) rc = seer_errorf(err, SEER_ENOMEM, "out of memory");
  for (size_t i = 0; !rc && i < n; i++) {
    tok_added *a = &tok->added[i];
    if (!a->normalized || !tok->normalizer) {
      pat[i] = strdup(a->content);
      plen[i] = a->len;
      if (!pat[i]) rc = seer_errorf(err, SEER_ENOMEM, "out of memory");
      continue;
    }
    /* Normalized tokens are matched in normalized text, so match their normalized form. */
    seer_buf b = SEER_BUF_INIT;
    rc = tok_normalize(tok->normalizer, a->content, a->len, &b, err);
    if (!rc && seer_buf_terminate(&b)) rc = seer_errorf(err, SEER_ENOMEM, "out of memory");
    pat[i] = b.data;
    plen[i] = b.len;
  }
  if (!rc) rc = tok_trie_build(&tok->trie_raw, tok->added, n, false, pat, plen, err);
  if (!rc) rc = tok_trie_build(&tok->trie_norm, tok->added, n, true, pat, plen, err);
  for (size_t i = 0; pat && i < n; i++)
    free(pat[i]);
  free(pat);
  free(plen);
  tok->has_raw = !rc && !tok->trie_raw.empty;
  tok->has_norm = !rc && !tok->trie_norm.empty;
  return rc;
}

static int build_id_index(seer_tokenizer *tok, seer_error *err) {
  size_t space = tok->bpe.vocab.nids;
  for (size_t i = 0; i < tok->nadded; i++)
    if ((size_t)tok->added[i].id + 1 > space) space = (size_t)tok->added[i].id + 1;
  tok->id_space = space;
  tok->added_by_id = malloc((space + 1) * sizeof *tok->added_by_id);
  if (!tok->added_by_id) return seer_errorf(err, SEER_ENOMEM, "out of memory");
  for (size_t i = 0; i <= space; i++)
    tok->added_by_id[i] = -1;
  for (size_t i = 0; i < tok->nadded; i++)
    tok->added_by_id[tok->added[i].id] = (int32_t)i;
  return SEER_OK;
}

static int load_components(seer_tokenizer *tok, json_t *root, seer_error *err) {
  json_t *model = json_object_get(root, "model");
  const char *type = json_string_value(json_object_get(model, "type"));
  if (!json_is_object(model))
    return seer_errorf(err, SEER_EFORMAT, "tokenizer.json: \"model\" is missing");
  if (!type || strcmp(type, "BPE"))
    return seer_errorf(err, SEER_ENOTSUP,
                       "tokenizer.json: model type \"%s\" is not supported "
                       "(only BPE)",
                       type ? type : "(none)");
  int rc;
  if ((rc = tok_bpe_configure(&tok->bpe, model, err)) ||
      (rc = load_added(tok, json_object_get(root, "added_tokens"), err)) ||
      (rc = tok_normalizer_parse(json_object_get(root, "normalizer"), "normalizer",
                                 &tok->normalizer, err)) ||
      (rc = tok_pretok_parse(json_object_get(root, "pre_tokenizer"), "pre_tokenizer", &tok->pretok,
                             err)) ||
      (rc = tok_postproc_parse(json_object_get(root, "post_processor"), "post_processor", tok,
                               &tok->post, err)) ||
      (rc = tok_decoder_parse(json_object_get(root, "decoder"), "decoder", &tok->decoder, err)) ||
      (rc = build_tries(tok, err)) || (rc = build_id_index(tok, err)))
    return rc;
  return SEER_OK;
}

int seer_tokenizer_load_buffer(const char *json, size_t len, const char *config_json,
                               size_t config_len, seer_tokenizer **out, seer_error *err) {
  *out = NULL;
  tok_jspan vspan, mspan;
  int rc = tok_json_find_model_spans(json, len, &vspan, &mspan, err);
  if (rc) return rc;
  if (vspan.start == vspan.end)
    return seer_errorf(err, SEER_EFORMAT, "tokenizer.json: model.vocab is missing");
  json_t *root = parse_skeleton(json, len, vspan, mspan, err);
  if (!root) return err ? err->code : SEER_EFORMAT;
  seer_tokenizer *tok = calloc(1, sizeof *tok);
  if (!tok) {
    json_decref(root);
    return seer_errorf(err, SEER_ENOMEM, "out of memory");
  }
  tok->bos_id = tok->eos_id = -1;
  /* The merge table needs continuing_subword_prefix before merges are read. */
  json_t *prefix = json_object_get(json_object_get(root, "model"), "continuing_subword_prefix");
  if (json_is_string(prefix)) tok->bpe.prefix_len = json_string_length(prefix);
  json_t *added = json_object_get(root, "added_tokens");
  rc = tok_bpe_load_vocab_merges(&tok->bpe, json + vspan.start, vspan.end - vspan.start,
                                 mspan.end > mspan.start ? json + mspan.start : NULL,
                                 mspan.end - mspan.start,
                                 json_is_array(added) ? json_array_size(added) : 0, err);
  if (!rc) rc = load_components(tok, root, err);
  json_decref(root);
  if (!rc && config_json) rc = tok_config_load(tok, config_json, config_len, err);
  if (rc) {
    seer_tokenizer_free(tok);
    return rc;
  }
  *out = tok;
  return SEER_OK;
}

void seer_tokenizer_free(seer_tokenizer *tok) {
  if (!tok) return;
  tok_bpe_free(&tok->bpe);
  for (size_t i = 0; i < tok->nadded; i++)
    free(tok->added[i].content);
  free(tok->added);
  tok_strtab_free(&tok->added_map);
  free(tok->added_by_id);
  tok_trie_free(&tok->trie_raw);
  tok_trie_free(&tok->trie_norm);
  tok_normalizer_free(tok->normalizer);
  tok_pretok_free(tok->pretok);
  tok_postproc_free(tok->post);
  tok_decoder_free(tok->decoder);
  free(tok->bos_token);
  free(tok->eos_token);
  free(tok->chat_template);
  json_decref(tok->special_vars);
  free(tok);
}

/* ---- tokenizer_config.json ---- */

/* A special token in tokenizer_config.json is a string or an AddedToken object with "content". */
static const char *token_text(json_t *v) {
  if (json_is_string(v)) return json_string_value(v);
  return json_string_value(json_object_get(v, "content"));
}

int tok_config_load(seer_tokenizer *tok, const char *text, size_t len, seer_error *err) {
  json_error_t je;
  /* model_max_length is often 1e30 written as an integer, too big for json_int_t. */
  json_t *cfg = json_loadb(text, len, JSON_DECODE_INT_AS_REAL, &je);
  if (!cfg || !json_is_object(cfg)) {
    json_decref(cfg);
    return seer_errorf(err, SEER_EFORMAT, "tokenizer_config.json is not a JSON object: %s line %d",
                       je.text, je.line);
  }
  int rc = SEER_OK;
  tok->special_vars = json_object();
  static const char *const keys[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                     "pad_token", "cls_token", "mask_token"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
    const char *t = token_text(json_object_get(cfg, keys[i]));
    if (t) json_object_set_new(tok->special_vars, keys[i], json_string(t));
  }
  json_t *extra = json_object_get(cfg, "additional_special_tokens");
  if (json_is_array(extra)) {
    json_t *list = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(extra, i, v) {
      if (token_text(v)) json_array_append_new(list, json_string(token_text(v)));
    }
    json_object_set_new(tok->special_vars, "additional_special_tokens", list);
  }
  const char *bos = token_text(json_object_get(cfg, "bos_token"));
  const char *eos = token_text(json_object_get(cfg, "eos_token"));
  if (bos) {
    tok->bos_token = strdup(bos);
    tok->bos_id = tok_token_to_id(tok, bos, strlen(bos));
  }
  if (eos) {
    tok->eos_token = strdup(eos);
    tok->eos_id = tok_token_to_id(tok, eos, strlen(eos));
  }
  json_t *ct = json_object_get(cfg, "chat_template");
  const char *tmpl = json_string_value(ct);
  if (json_is_array(ct)) {
    /* Named templates: use "default", as transformers does without a template name. */
    size_t i;
    json_t *v;
    json_array_foreach(ct, i, v) {
      const char *name = json_string_value(json_object_get(v, "name"));
      if (name && !strcmp(name, "default"))
        tmpl = json_string_value(json_object_get(v, "template"));
    }
  }
  if (tmpl) tok->chat_template = strdup(tmpl);
  if ((bos && !tok->bos_token) || (eos && !tok->eos_token) || (tmpl && !tok->chat_template) ||
      !tok->special_vars)
    rc = seer_errorf(err, SEER_ENOMEM, "out of memory");
  json_decref(cfg);
  return rc;
}
