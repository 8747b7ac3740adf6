/* tok_chat.c: owns apply_chat_template: the variables transformers hands chat_template and the
 * Jinja settings it renders with. */
#include "tok_internal.h"

#include "seer/jinja.h"

#include <string.h>

int seer_tokenizer_apply_chat_template(const seer_tokenizer *tok, const json_t *messages,
                                       const seer_chat_options *opts, seer_buf *out,
                                       seer_error *err) {
  const char *src = opts && opts->chat_template ? opts->chat_template : tok->chat_template;
  if (!src)
    return seer_errorf(err, SEER_ENOTSUP,
                       "cannot apply a chat template: this tokenizer has no chat_template "
                       "(tokenizer_config.json does not set one), and no template was given");
  if (!json_is_array(messages))
    return seer_errorf(err, SEER_EINVAL, "apply_chat_template: messages must be a JSON array");
  seer_jinja_options jo = {.trim_blocks = 1, .lstrip_blocks = 1};
  seer_jinja_template *t;
  int rc = seer_jinja_compile(src, strlen(src), &jo, &t, err);
  if (rc) {
    seer_error_prefix(err, "chat_template");
    return rc;
  }
  json_t *vars = json_object();
  if (!vars) {
    seer_jinja_free(t);
    return seer_errorf(err, SEER_ENOMEM, "out of memory");
  }
  /* Same order of precedence as transformers: special tokens, then the call's own variables. */
  if (tok->special_vars) json_object_update(vars, tok->special_vars);
  json_object_set(vars, "messages", (json_t *)messages);
  json_object_set_new(vars, "tools",
                      opts && opts->tools ? json_incref((json_t *)opts->tools) : json_null());
  json_object_set_new(vars, "documents", json_null());
  json_object_set_new(vars, "add_generation_prompt",
                      json_boolean(opts && opts->add_generation_prompt));
  if (opts && json_is_object(opts->extra)) json_object_update(vars, (json_t *)opts->extra);
  rc = seer_jinja_render(t, vars, out, err);
  json_decref(vars);
  seer_jinja_free(t);
  return rc;
}
