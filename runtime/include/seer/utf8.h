/* UTF-8 and the one Unicode property the text code shares: the runtime's single definition of
 * well-formed UTF-8 (Unicode Table 3-7: no overlongs, surrogates or code points past U+10FFFF),
 * which agrees with Rust's std (what tokenizers does) and is what the Lua codecs check before a
 * string becomes JSON text. Used by the tokenizer, the Jinja engine and the Lua bindings. */
#ifndef SEER_UTF8_H
#define SEER_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "seer/buf.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Decodes one code point at s (valid UTF-8 assumed); returns its byte length. */
static inline size_t seer_utf8_decode(const unsigned char *s, int32_t *cp) {
  unsigned c = s[0];
  if (c < 0x80) {
    *cp = (int32_t)c;
    return 1;
  }
  if (c < 0xE0) {
    *cp = (int32_t)(((c & 0x1F) << 6) | (s[1] & 0x3F));
    return 2;
  }
  if (c < 0xF0) {
    *cp = (int32_t)(((c & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F));
    return 3;
  }
  *cp =
      (int32_t)(((c & 0x07) << 18) | ((s[1] & 0x3F) << 12) | ((s[2] & 0x3F) << 6) | (s[3] & 0x3F));
  return 4;
}
/* Byte length of the sequence that starts with lead byte c (valid UTF-8 assumed). */
static inline size_t seer_utf8_len(unsigned char c) {
  return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}
/* Writes cp (at most 4 bytes) to out; returns the byte count. */
size_t seer_utf8_encode(int32_t cp, char *out);
/* Length of the longest well-formed prefix of s. */
size_t seer_utf8_valid_prefix(const char *s, size_t len);
/* 1 if all of s is well-formed. */
int seer_utf8_valid(const char *s, size_t len);
/* Appends s with each maximal invalid subpart replaced by U+FFFD, as Rust's
 * String::from_utf8_lossy does. Returns SEER_ENOMEM or 0. */
int seer_utf8_lossy(const char *s, size_t len, seer_buf *out);
/* Unicode White_Space (what Rust's char::is_whitespace tests). */
bool seer_unicode_is_whitespace(int32_t cp);

#ifdef __cplusplus
}
#endif
#endif
