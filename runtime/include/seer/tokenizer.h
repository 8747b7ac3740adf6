/* Tokenizers: HF tokenizer.json (BPE, byte-level and SentencePiece-style) with
 * tokenizer_config.json defaults and Jinja chat templates. No Lua here; the binding wraps these
 * calls. */
#ifndef SEER_TOKENIZER_H
#define SEER_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "seer/buf.h"
#include "seer/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct json_t; /* jansson value: chat messages, tools and extra template variables */

typedef struct seer_tokenizer seer_tokenizer;

/* Loads `path`: a tokenizer.json file, or a directory holding tokenizer.json. The
 * tokenizer_config.json beside it (optional) supplies bos/eos tokens and chat_template. */
int seer_tokenizer_load(const char *path, seer_tokenizer **out, seer_error *err);
/* Same, from tokenizer.json bytes and an optional tokenizer_config.json text (NULL when absent). */
int seer_tokenizer_load_buffer(const char *json, size_t len, const char *config_json,
                               size_t config_len, seer_tokenizer **out, seer_error *err);
void seer_tokenizer_free(seer_tokenizer *tok);

/* Encodes UTF-8 `text` (invalid UTF-8 is SEER_EINVAL). On success *ids is malloc'ed (free() it,
 * possibly NULL when *n == 0). Safe to call from several threads on one tokenizer. */
int seer_tokenizer_encode(const seer_tokenizer *tok, const char *text, size_t len,
                          int add_special_tokens, int32_t **ids, size_t *n, seer_error *err);
/* Appends the decoded text to `out` (which it NUL-terminates). Unknown ids are skipped, as HF does.
 */
int seer_tokenizer_decode(const seer_tokenizer *tok, const int32_t *ids, size_t n,
                          int skip_special_tokens, seer_buf *out, seer_error *err);

/* -1 when `s` is not a token. */
int32_t seer_tokenizer_token_to_id(const seer_tokenizer *tok, const char *s, size_t len);
/* The token's bytes (not NUL-terminated when *len is wanted; always NUL-terminated in practice),
 * or NULL for an unknown id. Valid while tok lives. */
const char *seer_tokenizer_id_to_token(const seer_tokenizer *tok, int32_t id, size_t *len);
/* Size of the id space: model vocabulary plus added tokens (HF len(tokenizer)). */
size_t seer_tokenizer_vocab_size(const seer_tokenizer *tok);
int seer_tokenizer_is_special(const seer_tokenizer *tok, int32_t id);

/* From tokenizer_config.json; NULL / -1 when not configured. */
const char *seer_tokenizer_bos_token(const seer_tokenizer *tok);
const char *seer_tokenizer_eos_token(const seer_tokenizer *tok);
int32_t seer_tokenizer_bos_id(const seer_tokenizer *tok);
int32_t seer_tokenizer_eos_id(const seer_tokenizer *tok);
/* The chat template source, or NULL. */
const char *seer_tokenizer_chat_template(const seer_tokenizer *tok);

typedef struct seer_chat_options {
  int add_generation_prompt;
  const struct json_t *tools; /* NULL, or a JSON array passed to the template as `tools` */
  /* NULL, or a JSON object whose members become template variables (e.g. enable_thinking). */
  const struct json_t *extra;
  /* NULL, or a template to render instead of the tokenizer's (transformers' chat_template=). */
  const char *chat_template;
} seer_chat_options;

/* Renders chat_template over `messages` (a JSON array of {role, content, ...}) as transformers does
 * (trim_blocks, lstrip_blocks, bos/eos/... tokens as variables) and appends the text to `out`.
 * A tokenizer without a template is SEER_ENOTSUP; raise_exception() is SEER_EINVAL with its
 * message. To tokenize, encode the text with add_special_tokens = 0, as transformers does. */
int seer_tokenizer_apply_chat_template(const seer_tokenizer *tok, const struct json_t *messages,
                                       const seer_chat_options *opts, seer_buf *out,
                                       seer_error *err);

#ifdef __cplusplus
}
#endif
#endif
