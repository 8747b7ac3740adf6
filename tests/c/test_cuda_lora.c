/* LoRA adapters on a device = "cuda" model (runtime/model/device_lora.c), through the grid
 * emulator unless SEER_CUDA_EMULATE is set otherwise (tools/cuda_check.sh runs it on a GPU with
 * 0). The side path runs on the device: loading uploads each target's A and B once, an unmerged
 * adapter adds three launches per target to a forward pass (x·Aᵀ, its product with Bᵀ, the scaled
 * add), and a disabled or merged one none (merging uploads each merged matrix once). Decoding
 * through CUDA graphs while the adapter is disabled, re-enabled, merged and unmerged between the
 * steps of one cache gives the logits of the same decode with every launch direct
 * (SEER_CUDA_GRAPHS=0) bit for bit, each change re-capturing: a graph never replays stale adapter
 * state. Control: the steps run without the adapter differ from those of a decode that keeps it,
 * so a replay of the adapter's graph there would be seen. A hook that changes the adapter mid-pass
 * is refused. (lua.lora_cuda checks the values
 * against the fixtures.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "device_engine.h"
#include "seer/lora.h"
#include "seer/model.h"

enum { STEPS = 10, V_MAX = 4096 };

static int argmax(const float *v, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; i++)
    if (v[i] > v[best]) best = i;
  return (int)best;
}

/* The adapter state before decode step s: a prefill of 4 positions grows the cache at steps 0 and
 * 4 (re-captures of their own), so the changes at 2, 3, 6, 8 and 9 are what re-captures there. */
typedef enum { ON, OFF, MERGED } lora_state;
static const lora_state switching[STEPS] = {ON, ON, OFF, ON, ON, ON, MERGED, MERGED, ON, OFF};
static const lora_state always_on[STEPS] = {ON, ON, ON, ON, ON, ON, ON, ON, ON, ON};

static void set_state(seer_model *m, lora_state st) {
  seer_error err = {0};
  if (st == OFF) {
    CHECK(seer_model_set_adapter(m, NULL, &err) == 0);
    return;
  }
  CHECK_MSG(seer_model_set_adapter(m, "ft", &err) == 0, "%s", err.msg);
  if (st == MERGED)
    CHECK_MSG(seer_model_merge_adapter(m, &err) == 0, "%s", err.msg);
  else
    seer_model_unmerge_adapter(m);
}

/* Prefills 4 tokens with the adapter on, then decodes STEPS greedy tokens, each step's logits
 * into lg [STEPS][V]. */
static int decode(seer_model *m, int64_t V, const lora_state *plan, float *lg) {
  seer_error err = {0};
  int32_t prompt[] = {2, 17, 301, 45};
  const int32_t *rows[1] = {prompt};
  size_t lens[1] = {4};
  set_state(m, ON);
  seer_kv_cache *cache = seer_kv_cache_new(m, 1, &err);
  seer_forward_opts o = {0, SEER_LOGITS_LAST, NULL, 0, 0};
  seer_forward_out out = {0};
  int rc = cache ? seer_model_forward(m, cache, 1, rows, lens, &o, &out, &err) : -1;
  CHECK_MSG(rc == 0, "prefill: %s", err.msg);
  for (int s = 0; !rc && s < STEPS; s++) {
    int32_t next = argmax(seer_tensor_data(out.logits), V);
    seer_forward_out_free(&out);
    const int32_t *one[1] = {&next};
    size_t ones[1] = {1};
    set_state(m, plan[s]);
    rc = seer_model_forward(m, cache, 1, one, ones, &o, &out, &err);
    CHECK_MSG(rc == 0, "decode step %d: %s", s, err.msg);
    if (!rc) memcpy(lg + (size_t)s * V, seer_tensor_data(out.logits), sizeof(float) * (size_t)V);
  }
  seer_forward_out_free(&out);
  seer_kv_cache_free(cache);
  return rc;
}

static uint64_t prompt_launches(seer_model *m) {
  seer_error err = {0};
  int32_t prompt[] = {2, 17, 301, 45, 9};
  const int32_t *rows[1] = {prompt};
  size_t lens[1] = {5};
  seer_forward_out out = {0};
  uint64_t before = seer_device_launches(m);
  CHECK_MSG(seer_model_forward(m, NULL, 1, rows, lens, NULL, &out, &err) == 0, "%s", err.msg);
  seer_forward_out_free(&out);
  return seer_device_launches(m) - before;
}

/* A hook (through the C API: Lua refuses it before) that disables the adapter mid-pass. */
static int disable_hook(void *ud, seer_tensor *h, const seer_hook_ctx *ctx,
                        seer_tensor **replacement, seer_error *err) {
  (void)h, (void)ctx, (void)replacement;
  return seer_model_set_adapter(ud, NULL, err);
}

static void test_switch_in_hook(seer_model *m) {
  seer_error err = {0};
  set_state(m, ON);
  int32_t prompt[] = {2, 17, 301};
  const int32_t *rows[1] = {prompt};
  size_t lens[1] = {3};
  seer_hook h = {{SEER_HOOK_LAYER, 0}, disable_hook, m};
  seer_forward_opts o = {0, SEER_LOGITS_LAST, &h, 1, 0};
  seer_forward_out out = {0};
  CHECK(seer_model_forward(m, NULL, 1, rows, lens, &o, &out, &err) == SEER_ESTATE);
  CHECK_STR_CONTAINS(err.msg, "change adapters between forward calls");
  seer_forward_out_free(&out);
}

static int differing(const float *a, const float *b, int s, int64_t V) {
  return memcmp(a + (size_t)s * V, b + (size_t)s * V, sizeof(float) * (size_t)V) != 0;
}

int main(void) {
  setenv("SEER_CUDA_EMULATE", "1", 0);
  const char *root = getenv("SEER_FIXTURES");
  if (!root) root = "tests/fixtures";
  char dir[1024], adir[1024];
  snprintf(dir, sizeof dir, "%s/models/llama", root);
  snprintf(adir, sizeof adir, "%s/peft/llama-lora", root);
  seer_error err = {0};
  seer_model *m = NULL;
  seer_model_opts mo = {SEER_DEVICE_CUDA, 0, 0, NULL};
  CHECK_MSG(seer_model_load(dir, &mo, &m, &err) == 0, "%s", err.msg);
  if (!m) return check_summary();
  int64_t V = seer_model_get_info(m)->vocab_size;
  CHECK(V <= V_MAX);

  /* Loading uploads A and B of each target, once. */
  uint64_t up0 = seer_device_uploads(m);
  CHECK_MSG(seer_model_load_adapter(m, adir, "ft", &err) == 0, "%s", err.msg);
  seer_adapter_info info = {0};
  CHECK(seer_model_adapter_info(m, 0, &info) == 0);
  unsigned long long targets = (unsigned long long)info.num_targets;
  unsigned long long uploads = seer_device_uploads(m) - up0;
  CHECK_MSG(targets > 0 && uploads == 2 * targets,
            "loading the adapter made %llu host-to-device copies for %llu targets, want %llu",
            uploads, targets, 2 * targets);

  /* The side path's launches: three per target unmerged, none disabled or merged. */
  uint64_t off = prompt_launches(m);
  set_state(m, ON);
  uint64_t on = prompt_launches(m);
  up0 = seer_device_uploads(m);
  set_state(m, MERGED);
  uploads = seer_device_uploads(m) - up0;
  uint64_t merged = prompt_launches(m);
  CHECK_MSG(on == off + 3 * targets && merged == off && uploads == targets,
            "forward launches: %llu unmerged, %llu without the adapter, %llu merged (merging "
            "uploaded %llu); want the unmerged %llu more (3 per target), merged as without, %llu "
            "uploads",
            (unsigned long long)on, (unsigned long long)off, (unsigned long long)merged, uploads,
            3 * targets, targets);
  printf("llama-lora on the device: %llu targets, %llu uploads at load, %llu side-path launches "
         "per forward\n",
         targets, 2 * targets, (unsigned long long)(on - off));

  /* Graphs against direct launches while the adapter changes between steps. */
  float *with = calloc((size_t)(STEPS * V), sizeof(float));
  float *without = calloc((size_t)(STEPS * V), sizeof(float));
  float *kept = calloc((size_t)(STEPS * V), sizeof(float));
  uint64_t cap0, launch0, cap1, launch1;
  seer_device_graph_counts(m, &cap0, &launch0);
  CHECK(decode(m, V, switching, with) == 0);
  seer_device_graph_counts(m, &cap1, &launch1);
  unsigned long long captured = cap1 - cap0;
  CHECK_MSG(captured == 7 && launch1 - launch0 == STEPS,
            "%llu captures and %llu graph launches over %d steps, want 7 and %d", captured,
            (unsigned long long)(launch1 - launch0), STEPS, STEPS);
  setenv("SEER_CUDA_GRAPHS", "0", 1);
  CHECK(decode(m, V, switching, without) == 0);
  unsetenv("SEER_CUDA_GRAPHS");
  int d = 0;
  for (int s = 0; s < STEPS; s++)
    d += differing(with, without, s, V);
  CHECK_MSG(d == 0, "%d of %d decode steps' logits differ with graphs while switching adapters", d,
            STEPS);
  printf("decode while disabling, merging and unmerging the adapter: %llu captures, logits equal "
         "to direct launches: %s\n",
         captured, d ? "no" : "yes");

  /* Control: without the adapter, steps give other logits than with it. */
  CHECK(decode(m, V, always_on, kept) == 0);
  CHECK_MSG(differing(with, kept, 2, V) && differing(with, kept, 9, V),
            "the steps without the adapter gave the adapter's logits");
  free(with), free(without), free(kept);
  test_switch_in_hook(m);
  seer_model_free(m);
  return check_summary();
}
