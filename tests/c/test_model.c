/* Model engine beyond the fixtures' parity: config spellings (transformers v5 rope_parameters),
 * unsupported architectures, create-random for every family, sampling determinism, stop ids,
 * on_token, bad input errors. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "seer/model.h"

static char tmp[256];
static const char *root;

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
}

static seer_forward_out forward_ids(seer_model *m, const int32_t *ids, size_t n) {
  seer_forward_out out = {0};
  seer_error err = {0};
  seer_forward_opts o = {1, SEER_LOGITS_ALL, NULL, 0, 0};
  const int32_t *rows[1] = {ids};
  int rc = seer_model_forward(m, NULL, 1, rows, &n, &o, &out, &err);
  CHECK_MSG(rc == 0, "forward: %s", err.msg);
  return out;
}

/* The llama3 fixture rewritten in v5 spelling must give the same logits. */
static void test_v5_spelling(void) {
  char src[512], dst[512], path[600];
  snprintf(src, sizeof src, "%s/models/llama3", root);
  snprintf(dst, sizeof dst, "%s/llama3-v5", tmp);
  CHECK(mkdir(dst, 0755) == 0);
  snprintf(path, sizeof path, "%s/model.safetensors", dst);
  char real[600];
  snprintf(real, sizeof real, "%s/model.safetensors", src);
  char *abs = realpath(real, NULL);
  CHECK(abs && symlink(abs, path) == 0);
  free(abs);
  snprintf(path, sizeof path, "%s/config.json", src);
  json_t *cfg = json_load_file(path, 0, NULL);
  json_t *rs = json_deep_copy(json_object_get(cfg, "rope_scaling"));
  json_object_set_new(rs, "rope_theta",
                      json_real(json_number_value(json_object_get(cfg, "rope_theta"))));
  json_object_del(cfg, "rope_scaling");
  json_object_del(cfg, "rope_theta");
  json_object_set_new(cfg, "rope_parameters", rs);
  json_object_set_new(cfg, "dtype", json_string("float32"));
  json_object_del(cfg, "torch_dtype");
  snprintf(path, sizeof path, "%s/config.json", dst);
  json_dump_file(cfg, path, 0);
  json_decref(cfg);
  seer_model *a = NULL, *b = NULL;
  seer_error err = {0};
  CHECK(seer_model_load(src, NULL, &a, &err) == 0);
  CHECK_MSG(seer_model_load(dst, NULL, &b, &err) == 0, "%s", err.msg);
  if (!a || !b) return;
  int32_t ids[6] = {5, 17, 300, 2, 9, 511};
  seer_forward_out oa = forward_ids(a, ids, 6), ob = forward_ids(b, ids, 6);
  int same = 1;
  for (int64_t i = 0; i < seer_tensor_numel(oa.logits); i++)
    same &= seer_tensor_get_flat(oa.logits, i) == seer_tensor_get_flat(ob.logits, i);
  CHECK_MSG(same, "v4 and v5 spellings give different logits");
  seer_forward_out_free(&oa);
  seer_forward_out_free(&ob);
  seer_model_free(a);
  seer_model_free(b);
}

static void test_unsupported(void) {
  char d[512], p[600];
  snprintf(d, sizeof d, "%s/gpt2", tmp);
  CHECK(mkdir(d, 0755) == 0);
  snprintf(p, sizeof p, "%s/config.json", d);
  write_text(p, "{\"architectures\": [\"GPT2LMHeadModel\"], \"hidden_size\": 8}");
  seer_model *m = NULL;
  seer_error err = {0};
  CHECK(seer_model_load(d, NULL, &m, &err) == SEER_ENOTSUP);
  CHECK_STR_CONTAINS(err.msg, "GPT2LMHeadModel");
  CHECK_STR_CONTAINS(err.msg, "Gemma3ForCausalLM");
  CHECK_STR_CONTAINS(err.msg, "Qwen2ForCausalLM");
  CHECK(m == NULL);
}

/* create-random for every fixture config, in bf16 and f32; each loads and runs. */
static void test_create_random(void) {
  const char *names[] = {"llama", "llama3", "gemma", "gemma2", "gemma3_text", "qwen2", "qwen3"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    for (int d = 0; d < 2; d++) {
      char cfg[512], out[512];
      snprintf(cfg, sizeof cfg, "%s/models/%s/config.json", root, names[i]);
      snprintf(out, sizeof out, "%s/rand-%s-%d", tmp, names[i], d);
      seer_error err = {0};
      seer_dtype dt = d ? SEER_DTYPE_BF16 : SEER_DTYPE_F32;
      int rc = seer_model_create_random(cfg, out, dt, 1234, &err);
      CHECK_MSG(rc == 0, "create-random %s: %s", names[i], err.msg);
      seer_model *m = NULL;
      rc = seer_model_load(out, NULL, &m, &err);
      CHECK_MSG(rc == 0, "load random %s: %s", names[i], err.msg);
      if (rc) continue;
      CHECK(seer_model_get_info(m)->dtype == dt);
      int32_t ids[5] = {1, 2, 3, 4, 5};
      seer_forward_out o = forward_ids(m, ids, 5);
      int finite = o.logits != NULL;
      double spread = 0;
      for (int64_t k = 0; o.logits && k < seer_tensor_numel(o.logits); k++) {
        double v = seer_tensor_get_flat(o.logits, k);
        finite &= isfinite(v);
        spread = fmax(spread, fabs(v));
      }
      CHECK_MSG(finite && spread > 0, "%s: random model logits not finite or all zero", names[i]);
      seer_forward_out_free(&o);
      seer_model_free(m);
    }
  /* same seed, same bytes */
  char cfg[512], a[512], b[512], cmd[1200];
  snprintf(cfg, sizeof cfg, "%s/models/qwen2/config.json", root);
  snprintf(a, sizeof a, "%s/seed-a", tmp);
  snprintf(b, sizeof b, "%s/seed-b", tmp);
  seer_error err = {0};
  CHECK(seer_model_create_random(cfg, a, SEER_DTYPE_BF16, 7, &err) == 0);
  CHECK(seer_model_create_random(cfg, b, SEER_DTYPE_BF16, 7, &err) == 0);
  snprintf(cmd, sizeof cmd, "cmp -s %s/model.safetensors %s/model.safetensors", a, b);
  CHECK(system(cmd) == 0);
  CHECK(seer_model_create_random(cfg, b, SEER_DTYPE_I32, 7, &err) != 0);
}

typedef struct {
  int count;
  int abort_at;
} tok_ud;

static int on_tok(void *ud, size_t row, int32_t tok, seer_error *err) {
  tok_ud *t = ud;
  if (++t->count == t->abort_at) return seer_errorf(err, SEER_ECANCELED, "stopped by callback");
  return 0;
}

static void test_sampling(void) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s/models/qwen3", root);
  seer_model *m = NULL;
  seer_error err = {0};
  CHECK(seer_model_load(dir, NULL, &m, &err) == 0);
  if (!m) return;
  int32_t ids[4] = {10, 20, 30, 40};
  const int32_t *rows[1] = {ids};
  size_t n = 4;
  seer_generate_opts o = {0};
  o.max_new_tokens = 16;
  o.temperature = 1.0;
  o.top_k = 50;
  o.top_p = 0.9;
  o.seed = 99;
  seer_generate_row *g1, *g2, *g3;
  CHECK(seer_model_generate(m, 1, rows, &n, &o, &g1, &err) == 0);
  CHECK(seer_model_generate(m, 1, rows, &n, &o, &g2, &err) == 0);
  o.seed = 100;
  CHECK(seer_model_generate(m, 1, rows, &n, &o, &g3, &err) == 0);
  CHECK(g1[0].len == 16 && g2[0].len == 16);
  CHECK(memcmp(g1[0].ids, g2[0].ids, 16 * sizeof(int32_t)) == 0);
  CHECK(memcmp(g1[0].ids, g3[0].ids, 16 * sizeof(int32_t)) != 0);
  /* stop at the 3rd sampled token of the first run */
  int32_t stop = g1[0].ids[2];
  o.seed = 99;
  o.stop = &stop;
  o.num_stop = 1;
  tok_ud tu = {0, 0};
  o.on_token = on_tok;
  o.on_token_ud = &tu;
  seer_generate_row *g4;
  CHECK(seer_model_generate(m, 1, rows, &n, &o, &g4, &err) == 0);
  size_t first = 0;
  while (g1[0].ids[first] != stop)
    first++;
  CHECK(g4[0].len == first + 1 && g4[0].finish_reason == SEER_FINISH_STOP);
  CHECK(tu.count == (int)g4[0].len);
  tu.count = 0;
  tu.abort_at = 2;
  seer_generate_row *g5 = NULL;
  CHECK(seer_model_generate(m, 1, rows, &n, &o, &g5, &err) == SEER_ECANCELED);
  CHECK_STR_CONTAINS(err.msg, "stopped by callback");
  seer_generate_rows_free(g1, 1), seer_generate_rows_free(g2, 1), seer_generate_rows_free(g3, 1);
  seer_generate_rows_free(g4, 1);
  /* bad inputs */
  int32_t bad[2] = {1, 512};
  const int32_t *brows[1] = {bad};
  size_t bn = 2;
  seer_forward_out out = {0};
  seer_forward_opts fo = {0, SEER_LOGITS_LAST, NULL, 0, 0};
  CHECK(seer_model_forward(m, NULL, 1, brows, &bn, &fo, &out, &err) == SEER_EINVAL);
  CHECK_STR_CONTAINS(err.msg, "out of range");
  seer_hook_point hp;
  CHECK(seer_model_parse_hook_point(m, "layers.1.attn", &hp, &err) == 0 &&
        hp.kind == SEER_HOOK_ATTN);
  CHECK(seer_model_parse_hook_point(m, "layers.9", &hp, &err) != 0);
  CHECK(seer_model_parse_hook_point(m, "layers.1.foo", &hp, &err) != 0);
  /* logits="last" equals the last row of "all" */
  seer_forward_out all = forward_ids(m, ids, 4);
  CHECK(seer_model_forward(m, NULL, 1, rows, &n, &fo, &out, &err) == 0);
  int same = out.logits && out.logits->ndim == 1;
  for (int64_t v = 0; same && v < 512; v++)
    same &= seer_tensor_get_flat(out.logits, v) == seer_tensor_get_flat(all.logits, 3 * 512 + v);
  CHECK(same);
  seer_forward_out_free(&out);
  seer_forward_out_free(&all);
  seer_model_free(m);
}

int main(void) {
  root = getenv("SEER_FIXTURES");
  if (!root) root = "tests/fixtures";
  snprintf(tmp, sizeof tmp, "/tmp/seer-model-test-XXXXXX");
  if (!mkdtemp(tmp)) return 1;
  test_v5_spelling();
  test_unsupported();
  test_create_random();
  test_sampling();
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
  return check_summary();
}
