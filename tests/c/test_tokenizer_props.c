/* Property tests on the real tokenizers: random bytes and random Unicode never crash, byte-level
 * tokenizers round-trip text exactly, and encoding is deterministic (also across threads). */
#include "check.h"
#include "seer/tokenizer.h"
#include "test_tokenizer_util.h"

#include <pthread.h>
#include <utf8proc.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 16);
}

/* Code points drawn from ranges that stress the pipeline: ASCII, controls, Latin-1, combining
 * marks, CJK, Hangul, emoji, spaces, private use and the top of the plane. */
static int32_t random_cp(void) {
  static const int32_t ranges[][2] = {{0x20, 0x7E},         {0x00, 0x1F},     {0x80, 0xFF},
                                      {0x300, 0x36F},       {0x4E00, 0x4FFF}, {0xAC00, 0xAD00},
                                      {0x1F300, 0x1F64F},   {0x2000, 0x206F}, {0xE000, 0xE0FF},
                                      {0x10FF00, 0x10FFFD}, {0x0900, 0x097F}, {0x3040, 0x30FF}};
  const int32_t *r = ranges[rnd() % (sizeof ranges / sizeof *ranges)];
  return r[0] + (int32_t)(rnd() % (uint32_t)(r[1] - r[0] + 1));
}

static size_t random_text(char *buf, size_t cap) {
  size_t n = 0, want = rnd() % 60;
  for (size_t i = 0; i < want; i++) {
    int32_t cp = random_cp();
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    if (rnd() % 4 == 0) cp = " \n\t<"[rnd() % 4];
    if (n + 4 >= cap) break;
    n += (size_t)utf8proc_encode_char(cp, (utf8proc_uint8_t *)buf + n);
  }
  /* Sometimes splice in a special token so added-token splitting is exercised too. */
  static const char *const specials[] = {"<|endoftext|>", "<|im_start|>",      "<s>",
                                         "<bos>",         "<|begin_of_text|>", "<start_of_turn>"};
  if (rnd() % 5 == 0 && n + 20 < cap) {
    const char *s = specials[rnd() % 6];
    memcpy(buf + n, s, strlen(s));
    n += strlen(s);
  }
  buf[n] = 0;
  return n;
}

typedef struct thread_arg {
  const seer_tokenizer *tok;
  const char *text;
  size_t len;
  int32_t *ids;
  size_t n;
  int rc;
} thread_arg;

static void *encode_thread(void *p) {
  thread_arg *a = p;
  seer_error err;
  for (int k = 0; k < 20; k++) {
    free(a->ids);
    a->rc = seer_tokenizer_encode(a->tok, a->text, a->len, 1, &a->ids, &a->n, &err);
  }
  return NULL;
}

static void props(const char *name, int byte_level, int nfc) {
  const char *dir = tt_tokenizer_dir(name);
  CHECK_MSG(dir != NULL, "%s: files unavailable", name);
  if (!dir) return;
  seer_error err = {0};
  seer_tokenizer *tok = NULL;
  if (seer_tokenizer_load(dir, &tok, &err)) {
    CHECK_MSG(0, "%s: load: %s", name, err.msg);
    return;
  }
  char buf[512];
  int roundtrip_ok = 0, cases = 400;
  for (int i = 0; i < cases; i++) {
    /* random bytes: either valid text or a clean EINVAL, never a crash */
    size_t nb = rnd() % 64;
    for (size_t k = 0; k < nb; k++)
      buf[k] = (char)rnd();
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = seer_tokenizer_encode(tok, buf, nb, 1, &ids, &n, &err);
    CHECK(rc == 0 || rc == SEER_EINVAL);
    free(ids);

    /* random ids decode without crashing, in and out of range */
    int32_t rid[16];
    for (int k = 0; k < 16; k++)
      rid[k] = (int32_t)(rnd() % (seer_tokenizer_vocab_size(tok) + 10)) - 5;
    seer_buf out = SEER_BUF_INIT;
    CHECK(seer_tokenizer_decode(tok, rid, 16, rnd() % 2, &out, &err) == 0);
    seer_buf_free(&out);

    /* random Unicode */
    size_t len = random_text(buf, sizeof buf);
    rc = seer_tokenizer_encode(tok, buf, len, 0, &ids, &n, &err);
    CHECK_MSG(rc == 0, "%s: encode failed: %s", name, err.msg);
    int32_t *ids2 = NULL;
    size_t n2 = 0;
    seer_tokenizer_encode(tok, buf, len, 0, &ids2, &n2, &err);
    CHECK_MSG(n == n2 && (n == 0 || !memcmp(ids, ids2, n * sizeof *ids)), "%s: not deterministic",
              name);
    free(ids2);
    if (byte_level && rc == 0) {
      out = (seer_buf)SEER_BUF_INIT;
      rc = seer_tokenizer_decode(tok, ids, n, 0, &out, &err);
      /* qwen3 normalizes with NFC first, so it round-trips the NFC form of the input. */
      utf8proc_uint8_t *want = NULL;
      utf8proc_ssize_t wlen =
          nfc ? utf8proc_map((const utf8proc_uint8_t *)buf, (utf8proc_ssize_t)len, &want,
                             UTF8PROC_STABLE | UTF8PROC_COMPOSE)
              : (utf8proc_ssize_t)len;
      if (!nfc) {
        want = malloc(len + 1);
        memcpy(want, buf, len + 1);
      }
      int same = rc == 0 && wlen >= 0 && out.len == (size_t)wlen &&
                 !memcmp(out.data ? out.data : "", want, out.len);
      CHECK_MSG(same, "%s: decode(encode(s)) != s for \"%s\" (%zu bytes)", name, buf, len);
      roundtrip_ok += same;
      free(want);
      seer_buf_free(&out);
    }
    free(ids);
  }
  /* Determinism across threads sharing one tokenizer (and its word cache). */
  const char *text =
      "Threads share the BPE cache: 多线程 tokenization, émojis 🙂🙂, code { x += 1; }";
  thread_arg args[4];
  pthread_t th[4];
  for (int k = 0; k < 4; k++) {
    args[k] = (thread_arg){tok, text, strlen(text), NULL, 0, 0};
    pthread_create(&th[k], NULL, encode_thread, &args[k]);
  }
  for (int k = 0; k < 4; k++)
    pthread_join(th[k], NULL);
  for (int k = 1; k < 4; k++)
    CHECK(args[k].rc == 0 && args[k].n == args[0].n &&
          !memcmp(args[k].ids, args[0].ids, args[0].n * sizeof(int32_t)));
  for (int k = 0; k < 4; k++)
    free(args[k].ids);
  /* A long run of one character (deep BPE merge heap, long regex runs). */
  size_t big = 200000;
  char *s = malloc(big + 1);
  memset(s, ' ', big);
  s[big] = 0;
  int32_t *ids = NULL;
  size_t n = 0;
  CHECK(seer_tokenizer_encode(tok, s, big, 0, &ids, &n, &err) == 0 && n > 0);
  free(ids);
  memset(s, 'a', big);
  CHECK(seer_tokenizer_encode(tok, s, big, 0, &ids, &n, &err) == 0 && n > 0);
  free(ids);
  free(s);
  if (byte_level) printf("%s: %d/%d random strings round-trip\n", name, roundtrip_ok, cases);
  seer_tokenizer_free(tok);
}

int main(void) {
  props("llama3", 1, 0);
  props("qwen3", 1, 1);
  props("llama2", 0, 0);
  props("gemma3", 0, 0);
  return check_summary();
}
