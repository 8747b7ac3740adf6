/* Shared by the tokenizer tests: finds the fixtures and the tokenizer files placed by
 * tests/setup/tokenizers.sh, running tests/setup/tokenizers.sh when the cache is empty so that
 * plain `ctest` works. */
#ifndef SEER_TEST_TOKENIZER_UTIL_H
#define SEER_TEST_TOKENIZER_UTIL_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline const char *tt_cache(void) {
  const char *c = getenv("SEER_TEST_CACHE");
  return c && *c ? c : ".cache/test-cache";
}

/* Directory holding tokenizer.json for `name`, or NULL (with a message) when setup fails. */
static inline const char *tt_tokenizer_dir(const char *name) {
  static char dir[4096];
  snprintf(dir, sizeof dir, "%s/tokenizers/%s", tt_cache(), name);
  char file[4200];
  snprintf(file, sizeof file, "%s/tokenizer.json", dir);
  static int setup_ran;
  if (access(file, R_OK) != 0 && !setup_ran) {
    setup_ran = 1;
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "bash tests/setup/tokenizers.sh '%s' >/dev/null", tt_cache());
    fprintf(stderr, "running %s\n", cmd);
    if (system(cmd) != 0) {
      fprintf(stderr, "tests/setup/tokenizers.sh failed\n");
      return NULL;
    }
  }
  return access(file, R_OK) == 0 ? dir : NULL;
}

static inline json_t *tt_fixture(const char *name) {
  const char *root = getenv("SEER_FIXTURES");
  char path[4096];
  snprintf(path, sizeof path, "%s/tokenizers/%s.json", root && *root ? root : "tests/fixtures",
           name);
  json_error_t je;
  json_t *j = json_load_file(path, JSON_ALLOW_NUL, &je);
  if (!j) fprintf(stderr, "cannot load %s: %s\n", path, je.text);
  return j;
}

static inline int tt_ids_equal(const int32_t *ids, size_t n, json_t *want) {
  if (!json_is_array(want) || json_array_size(want) != n) return 0;
  for (size_t i = 0; i < n; i++)
    if (json_integer_value(json_array_get(want, i)) != ids[i]) return 0;
  return 1;
}

static inline void tt_print_ids(const char *label, const int32_t *ids, size_t n, json_t *want) {
  fprintf(stderr, "  %s got  [", label);
  for (size_t i = 0; i < n; i++)
    fprintf(stderr, "%s%d", i ? "," : "", ids[i]);
  fprintf(stderr, "]\n  %s want [", label);
  for (size_t i = 0; i < json_array_size(want); i++)
    fprintf(stderr, "%s%lld", i ? "," : "", (long long)json_integer_value(json_array_get(want, i)));
  fprintf(stderr, "]\n");
}

#endif
