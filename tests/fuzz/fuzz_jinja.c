/* fuzz_jinja.c: chat templates (downloaded with tokenizer_config.json, so hostile) compiled with
 * transformers' options and rendered over a small fixed conversation with a tool call. */
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "seer/jinja.h"

static const char context[] =
    "{\"messages\": ["
    "{\"role\": \"system\", \"content\": \"You are terse.\"},"
    "{\"role\": \"user\", \"content\": \"Hi <b>\\u00e9</b>\"},"
    "{\"role\": \"assistant\", \"content\": \"\", \"tool_calls\": [{\"type\": \"function\", "
    "\"function\": {\"name\": \"get\", \"arguments\": {\"city\": \"Paris\", \"n\": [1, 2.5]}}}]},"
    "{\"role\": \"tool\", \"content\": \"ok\"},"
    "{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"two\"}]}],"
    "\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"get\", \"description\": \"d\","
    "\"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}}}}],"
    "\"add_generation_prompt\": true, \"bos_token\": \"<s>\", \"eos_token\": \"</s>\","
    "\"enable_thinking\": false}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static json_t *vars;
  if (!vars && !(vars = json_loads(context, 0, NULL))) abort();
  seer_jinja_options o = {1, 1};
  seer_jinja_template *t = NULL;
  seer_error err = {0};
  if (seer_jinja_compile((const char *)data, size, &o, &t, &err) == 0) {
    seer_buf out = SEER_BUF_INIT;
    seer_jinja_render(t, vars, &out, &err);
    seer_buf_free(&out);
  }
  seer_jinja_free(t);
  return 0;
}
