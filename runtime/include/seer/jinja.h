/* Jinja templates (the subset chat templates use), rendered the way transformers renders
 * chat_template: trim_blocks and lstrip_blocks on, loop controls, raise_exception, tojson. */
#ifndef SEER_JINJA_H
#define SEER_JINJA_H

#include <stddef.h>

#include "seer/buf.h"
#include "seer/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct json_t;

typedef struct seer_jinja_template seer_jinja_template;

typedef struct seer_jinja_options {
  int trim_blocks;   /* drop the first newline after a block tag */
  int lstrip_blocks; /* strip spaces and tabs before a block tag at the start of a line */
} seer_jinja_options;

/* Parses `src`; syntax errors are SEER_EFORMAT naming the line. opts may be NULL (both off). */
int seer_jinja_compile(const char *src, size_t len, const seer_jinja_options *opts,
                       seer_jinja_template **out, seer_error *err);
/* Renders with the members of the JSON object `vars` as variables, appending to out.
 * raise_exception("msg") fails with SEER_EINVAL and exactly "msg" as the message. */
int seer_jinja_render(const seer_jinja_template *t, const struct json_t *vars, seer_buf *out,
                      seer_error *err);
void seer_jinja_free(seer_jinja_template *t);

#ifdef __cplusplus
}
#endif
#endif
