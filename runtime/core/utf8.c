/* utf8.c: the runtime's one UTF-8 module (see seer/utf8.h): encoding, well-formedness (the
 * maximal-subpart rule of Rust's Utf8Chunks, so lossy decoding matches String::from_utf8_lossy
 * byte for byte) and Unicode White_Space. */
#include "seer/utf8.h"

#include "seer/error.h"

size_t seer_utf8_encode(int32_t cp, char *out) {
  unsigned char *o = (unsigned char *)out;
  if (cp < 0x80) {
    o[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (unsigned char)(0xC0 | (cp >> 6));
    o[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (unsigned char)(0xE0 | (cp >> 12));
    o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (unsigned char)(0xF0 | (cp >> 18));
  o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Number of bytes of a valid sequence at s, or 0 with *bad set to the length of the maximal
 * invalid subpart (what Rust's Utf8Chunks reports as error_len). */
static size_t utf8_step(const unsigned char *s, size_t avail, size_t *bad) {
  unsigned c = s[0];
  if (c < 0x80) return 1;
  size_t need;
  unsigned lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF)
    need = 1;
  else if (c == 0xE0)
    need = 2, lo = 0xA0;
  else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
    need = 2;
  else if (c == 0xED)
    need = 2, hi = 0x9F;
  else if (c == 0xF0)
    need = 3, lo = 0x90;
  else if (c >= 0xF1 && c <= 0xF3)
    need = 3;
  else if (c == 0xF4)
    need = 3, hi = 0x8F;
  else {
    *bad = 1;
    return 0;
  }
  for (size_t k = 1; k <= need; k++) {
    if (k >= avail || s[k] < lo || s[k] > hi) {
      *bad = k;
      return 0;
    }
    lo = 0x80, hi = 0xBF;
  }
  return need + 1;
}

size_t seer_utf8_valid_prefix(const char *s, size_t len) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0, bad;
  while (i < len) {
    if (u[i] < 0x80) {
      i++;
      continue;
    }
    size_t n = utf8_step(u + i, len - i, &bad);
    if (!n) break;
    i += n;
  }
  return i;
}

int seer_utf8_valid(const char *s, size_t len) { return seer_utf8_valid_prefix(s, len) == len; }

int seer_utf8_lossy(const char *s, size_t len, seer_buf *out) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0, run = 0, bad;
  while (i < len) {
    size_t n = utf8_step(u + i, len - i, &bad);
    if (n) {
      i += n;
      continue;
    }
    if (seer_buf_append(out, s + run, i - run) || seer_buf_append(out, "\xEF\xBF\xBD", 3))
      return SEER_ENOMEM;
    i += bad;
    run = i;
  }
  return seer_buf_append(out, s + run, len - run) ? SEER_ENOMEM : SEER_OK;
}

bool seer_unicode_is_whitespace(int32_t c) {
  if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D);
  if (c < 0x85) return false;
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}
