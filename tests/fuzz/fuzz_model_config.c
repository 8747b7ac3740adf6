/* fuzz_model_config.c: config.json (downloaded with the weights, so hostile) through the parser
 * every family shares: sizes, token ids, rope settings, layer types, after unwrapping a multimodal
 * config's text_config (runtime/model/wrapped.c). */
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "../../runtime/model/model_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *cfg = json_loadb((const char *)data, size, 0, NULL);
  if (!cfg) return 0;
  model_cfg c;
  const seer_arch *arch = NULL;
  seer_error err = {0};
  json_t *text = NULL;
  int wrapped = 0;
  memset(&c, 0, sizeof c);
  if (seer_model_unwrap_config(cfg, "config.json", &text, &wrapped, &err) == 0) {
    seer_model_config_parse(text, "config.json", &c, &arch, &err);
    json_decref(text);
  }
  seer_model_config_free(&c);
  json_decref(cfg);
  return 0;
}
