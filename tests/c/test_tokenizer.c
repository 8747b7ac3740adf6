/* Exact parity with HF tokenizers 0.23 on the fixture cases of four real tokenizers: ids with and
 * without special tokens, and decode with and without skipping them. */
#include "check.h"
#include "seer/tokenizer.h"
#include "test_tokenizer_util.h"

static void run_cases(const char *name) {
  const char *dir = tt_tokenizer_dir(name);
  CHECK_MSG(dir != NULL, "%s: tokenizer files unavailable", name);
  json_t *fx = tt_fixture(name);
  CHECK_MSG(fx != NULL, "%s: fixture missing", name);
  if (!dir || !fx) return;
  seer_error err = {0};
  seer_tokenizer *tok = NULL;
  int rc = seer_tokenizer_load(dir, &tok, &err);
  CHECK_MSG(rc == 0, "%s: load: %s", name, err.msg);
  if (rc) {
    json_decref(fx);
    return;
  }
  json_t *cases = json_object_get(fx, "cases");
  size_t i, ok = 0;
  json_t *c;
  json_array_foreach(cases, i, c) {
    const char *text = json_string_value(json_object_get(c, "text"));
    size_t len = json_string_length(json_object_get(c, "text"));
    int good = 1;
    for (int special = 0; special <= 1; special++) {
      int32_t *ids = NULL;
      size_t n = 0;
      rc = seer_tokenizer_encode(tok, text, len, special, &ids, &n, &err);
      json_t *want = json_object_get(c, special ? "ids_special" : "ids");
      int same = rc == 0 && tt_ids_equal(ids, n, want);
      CHECK_MSG(same, "%s case %zu (%s) %.60s", name, i, special ? "ids_special" : "ids", text);
      if (!same) {
        good = 0;
        if (rc)
          fprintf(stderr, "  error: %s\n", err.msg);
        else
          tt_print_ids(special ? "ids_special" : "ids", ids, n, want);
      }
      free(ids);
    }
    json_t *want_ids = json_object_get(c, "ids_special");
    size_t n = json_array_size(want_ids);
    int32_t *ids = malloc((n + 1) * sizeof *ids);
    for (size_t k = 0; k < n; k++)
      ids[k] = (int32_t)json_integer_value(json_array_get(want_ids, k));
    for (int skip = 0; skip <= 1; skip++) {
      seer_buf out = SEER_BUF_INIT;
      rc = seer_tokenizer_decode(tok, ids, n, skip, &out, &err);
      json_t *want = json_object_get(c, skip ? "decoded_skip" : "decoded");
      int same = rc == 0 && out.len == json_string_length(want) &&
                 memcmp(out.data ? out.data : "", json_string_value(want), out.len) == 0;
      CHECK_MSG(same, "%s case %zu (%s) %.60s", name, i, skip ? "decoded_skip" : "decoded", text);
      if (!same) {
        good = 0;
        fprintf(stderr, "  got  \"%.*s\"\n  want \"%s\"\n", (int)out.len, out.data ? out.data : "",
                json_string_value(want));
      }
      seer_buf_free(&out);
    }
    free(ids);
    ok += good;
  }
  printf("%s: %zu/%zu cases match\n", name, ok, json_array_size(cases));
  seer_tokenizer_free(tok);
  json_decref(fx);
}

int main(int argc, char **argv) {
  const char *names[] = {"llama3", "qwen3", "llama2", "gemma3"};
  for (size_t i = 0; i < 4; i++)
    if (argc < 2 || !strcmp(argv[1], names[i])) run_cases(names[i]);
  return check_summary();
}
