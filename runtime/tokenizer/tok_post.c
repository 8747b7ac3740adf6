/* tok_post.c: owns the post-processors (TemplateProcessing, ByteLevel, Sequence): the special
 * tokens that add_special_tokens puts around an encoding. */
#include "tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PP_TEMPLATE, PP_BYTELEVEL, PP_SEQ };

typedef struct tmpl_item {
  bool sequence; /* $A; otherwise a special token's ids */
  int32_t *ids;
  size_t nids;
} tmpl_item;

struct tok_postproc {
  int type;
  tmpl_item *items;
  size_t nitems;
  tok_postproc **kids;
  size_t nkids;
};

void tok_postproc_free(tok_postproc *p) {
  if (!p) return;
  /* items has a spare slot: an item whose ids failed to parse sits at nitems, ids allocated. */
  for (size_t i = 0; p->items && i <= p->nitems; i++)
    free(p->items[i].ids);
  free(p->items);
  for (size_t i = 0; i < p->nkids; i++)
    tok_postproc_free(p->kids[i]);
  free(p->kids);
  free(p);
}

static int parse_template(json_t *j, const char *path, tok_postproc *p, seer_error *err) {
  json_t *single = json_object_get(j, "single"), *specials = json_object_get(j, "special_tokens");
  if (!json_is_array(single))
    return seer_errorf(err, SEER_EFORMAT, "tokenizer.json: %s.single must be an array of pieces",
                       path);
  p->items = calloc(json_array_size(single) + 1, sizeof *p->items);
  if (!p->items) return seer_errorf(err, SEER_ENOMEM, "out of memory");
  for (size_t i = 0; i < json_array_size(single); i++) {
    json_t *it = json_array_get(single, i);
    json_t *seq = json_object_get(it, "Sequence"), *sp = json_object_get(it, "SpecialToken");
    tmpl_item *t = &p->items[p->nitems];
    if (seq) {
      const char *id = json_string_value(json_object_get(seq, "id"));
      if (!id || strcmp(id, "A"))
        return seer_errorf(err, SEER_EFORMAT,
                           "tokenizer.json: %s.single[%zu]: a single-sequence "
                           "template can only use sequence A",
                           path, i);
      t->sequence = true;
    } else if (sp) {
      const char *id = json_string_value(json_object_get(sp, "id"));
      json_t *def = id ? json_object_get(specials, id) : NULL;
      json_t *ids = json_object_get(def, "ids");
      if (!json_is_array(ids))
        return seer_errorf(err, SEER_EFORMAT,
                           "tokenizer.json: %s.single[%zu]: special token "
                           "\"%s\" is missing from special_tokens",
                           path, i, id ? id : "?");
      t->ids = malloc((json_array_size(ids) + 1) * sizeof *t->ids);
      if (!t->ids) return seer_errorf(err, SEER_ENOMEM, "out of memory");
      for (size_t k = 0; k < json_array_size(ids); k++) {
        json_t *v = json_array_get(ids, k);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX)
          return seer_errorf(err, SEER_EFORMAT,
                             "tokenizer.json: %s.special_tokens[\"%s\"].ids "
                             "must hold token ids",
                             path, id);
        t->ids[t->nids++] = (int32_t)json_integer_value(v);
      }
    } else {
      return seer_errorf(err, SEER_EFORMAT,
                         "tokenizer.json: %s.single[%zu] must be a Sequence or "
                         "a SpecialToken",
                         path, i);
    }
    p->nitems++;
  }
  return SEER_OK;
}

int tok_postproc_parse(json_t *j, const char *path, const struct seer_tokenizer *tok,
                       tok_postproc **out, seer_error *err) {
  *out = NULL;
  if (!j || json_is_null(j)) return SEER_OK;
  const char *type = json_string_value(json_object_get(j, "type"));
  if (!type) return seer_errorf(err, SEER_EFORMAT, "tokenizer.json: %s has no \"type\"", path);
  tok_postproc *p = calloc(1, sizeof *p);
  if (!p) return seer_errorf(err, SEER_ENOMEM, "out of memory");
  int rc = SEER_OK;
  if (!strcmp(type, "TemplateProcessing")) {
    p->type = PP_TEMPLATE;
    rc = parse_template(j, path, p, err);
  } else if (!strcmp(type, "ByteLevel")) {
    p->type = PP_BYTELEVEL; /* only trims offsets, which this API does not expose */
  } else if (!strcmp(type, "Sequence")) {
    p->type = PP_SEQ;
    json_t *arr = json_object_get(j, "processors");
    if (!json_is_array(arr)) {
      rc = seer_errorf(err, SEER_EFORMAT, "tokenizer.json: %s.processors must be an array", path);
    } else {
      p->kids = calloc(json_array_size(arr) + 1, sizeof *p->kids);
      if (!p->kids) rc = seer_errorf(err, SEER_ENOMEM, "out of memory");
      for (size_t i = 0; !rc && i < json_array_size(arr); i++) {
        char sub[256];
        snprintf(sub, sizeof sub, "%s.processors[%zu]", path, i);
        rc = tok_postproc_parse(json_array_get(arr, i), sub, tok, &p->kids[p->nkids], err);
        if (!rc && p->kids[p->nkids]) p->nkids++;
      }
    }
  } else {
    rc = seer_errorf(err, SEER_ENOTSUP,
                     "tokenizer.json: %s: post-processor type \"%s\" is not supported", path, type);
  }
  if (rc) {
    tok_postproc_free(p);
    return rc;
  }
  *out = p;
  return SEER_OK;
}

int tok_postprocess(const tok_postproc *p, int32_t **ids, size_t *n, size_t *cap, seer_error *err) {
  if (p->type == PP_BYTELEVEL) return SEER_OK;
  if (p->type == PP_SEQ) {
    for (size_t i = 0; i < p->nkids; i++) {
      int rc = tok_postprocess(p->kids[i], ids, n, cap, err);
      if (rc) return rc;
    }
    return SEER_OK;
  }
  size_t total = 0;
  for (size_t i = 0; i < p->nitems; i++)
    total += p->items[i].sequence ? *n : p->items[i].nids;
  int32_t *v = malloc((total + 1) * sizeof *v);
  if (!v) return seer_errorf(err, SEER_ENOMEM, "out of memory");
  size_t k = 0;
  for (size_t i = 0; i < p->nitems; i++) {
    const tmpl_item *t = &p->items[i];
    const int32_t *src = t->sequence ? *ids : t->ids;
    size_t len = t->sequence ? *n : t->nids;
    if (len) memcpy(v + k, src, len * sizeof *v);
    k += len;
  }
  free(*ids);
  *ids = v;
  *n = k;
  *cap = total + 1;
  return SEER_OK;
}
