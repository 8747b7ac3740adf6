/* fuzz_model_config.c: config.json (downloaded with the weights, so hostile) through the parser
 * every family shares: sizes, token ids, rope settings, layer types. */
#include <stdint.h>

#include <jansson.h>

#include "../../runtime/model/model_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *cfg = json_loadb((const char *)data, size, 0, NULL);
  if (!cfg) return 0;
  model_cfg c;
  const seer_arch *arch = NULL;
  seer_error err = {0};
  seer_model_config_parse(cfg, "config.json", &c, &arch, &err);
  seer_model_config_free(&c);
  json_decref(cfg);
  return 0;
}
