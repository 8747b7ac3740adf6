/* Exact parity with HF tokenizers 0.23 on the fixture cases of four real tokenizers: ids with and
 * without special tokens, and decode with and without skipping them; and hostile files' ids. */
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

/* Reads a whole file (NULL if unreadable); *len gets its size. */
static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
    free(s);
    s = NULL;
  }
  fclose(f);
  if (s) s[n] = 0;
  *len = (size_t)n;
  return s;
}

/* Loads tokenizer.json text; returns the status and leaves the message in err. */
static int load_text(const char *json, seer_error *err) {
  seer_tokenizer *tok = NULL;
  int rc = seer_tokenizer_load_buffer(json, strlen(json), NULL, 0, &tok, err);
  seer_tokenizer_free(tok);
  return rc;
}

#define TOK_JSON(added, vocab)                                                                     \
  "{\"added_tokens\": [" added "], \"model\": {\"type\": \"BPE\", \"vocab\": {" vocab "}, "        \
  "\"merges\": []}}"

/* Hostile files: ids size the id tables, so an id beyond the entries the file holds is an error
 * (it used to make a 338-byte file allocate 16 GB and take 18 s). */
static void hostile_ids(void) {
  seer_error err = {0};
  size_t len = 0;
  char *huge = slurp("tests/fuzz/corpus/tokenizer_json/huge-vocab-id.json", &len);
  CHECK_MSG(huge != NULL, "tests/fuzz/corpus/tokenizer_json/huge-vocab-id.json is missing");
  if (huge) {
    seer_tokenizer *tok = NULL;
    int rc = seer_tokenizer_load_buffer(huge, len, NULL, 0, &tok, &err);
    CHECK_MSG(rc == SEER_EFORMAT, "vocab id 2e9 in %zu bytes: rc=%d", len, rc);
    CHECK_STR_CONTAINS(err.msg, "model.vocab id 2000000000 of \"ab\" is out of range");
    seer_tokenizer_free(tok);
    free(huge);
  }
  huge = slurp("tests/fuzz/corpus/tokenizer_json/huge-added-id.json", &len);
  CHECK_MSG(huge != NULL, "tests/fuzz/corpus/tokenizer_json/huge-added-id.json is missing");
  if (huge) {
    seer_tokenizer *tok = NULL;
    int rc = seer_tokenizer_load_buffer(huge, len, NULL, 0, &tok, &err);
    CHECK_MSG(rc == SEER_EFORMAT, "added id 2e9: rc=%d", rc);
    CHECK_STR_CONTAINS(err.msg, "added_tokens[0] id 2000000000 is out of range");
    seer_tokenizer_free(tok);
    free(huge);
  }
  /* The bound is exact: ids 0..entries+added-1 load, holes included when added tokens fill them. */
  CHECK(load_text(TOK_JSON("{\"id\": 2, \"content\": \"<x>\"}", "\"a\": 0, \"b\": 1"), &err) == 0);
  CHECK(load_text(TOK_JSON("{\"id\": 1, \"content\": \"<x>\"}", "\"a\": 0, \"b\": 2"), &err) == 0);
  CHECK(load_text(TOK_JSON("{\"id\": 3, \"content\": \"<x>\"}", "\"a\": 0, \"b\": 1"), &err) ==
        SEER_EFORMAT);
  CHECK_STR_CONTAINS(err.msg, "added_tokens[0] id 3 is out of range: ids must be below 3");
  CHECK(load_text(TOK_JSON("", "\"a\": 0, \"b\": 2"), &err) == SEER_EFORMAT);
  CHECK_STR_CONTAINS(err.msg, "model.vocab id 2 of \"b\" is out of range: ids must be below 2");
  /* seer_tokenizer_is_special: added tokens marked special, nothing else, no id out of range. */
  const char *sp = TOK_JSON("{\"id\": 2, \"content\": \"<s>\", \"special\": true}, "
                            "{\"id\": 3, \"content\": \"<y>\", \"special\": false}",
                            "\"a\": 0, \"b\": 1");
  seer_tokenizer *tok = NULL;
  CHECK_MSG(seer_tokenizer_load_buffer(sp, strlen(sp), NULL, 0, &tok, &err) == 0, "%s", err.msg);
  if (tok) {
    CHECK(seer_tokenizer_is_special(tok, 2));
    CHECK(!seer_tokenizer_is_special(tok, 3) && !seer_tokenizer_is_special(tok, 0));
    CHECK(!seer_tokenizer_is_special(tok, -1) && !seer_tokenizer_is_special(tok, 4));
  }
  seer_tokenizer_free(tok);
  /* Duplicate keys count once, as serde keeps the last. */
  CHECK(load_text(TOK_JSON("", "\"a\": 0, \"a\": 1"), &err) == SEER_EFORMAT);
  CHECK_STR_CONTAINS(err.msg, "model.vocab id 1 of \"a\" is out of range");
}

int main(int argc, char **argv) {
  if (argc < 2) hostile_ids();
  const char *names[] = {"llama3", "qwen3", "llama2", "gemma3"};
  for (size_t i = 0; i < 4; i++)
    if (argc < 2 || !strcmp(argv[1], names[i])) run_cases(names[i]);
  return check_summary();
}
