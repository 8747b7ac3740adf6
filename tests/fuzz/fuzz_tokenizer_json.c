/* fuzz_tokenizer_json.c: tokenizer.json (downloaded, so hostile) loaded from a buffer, then a fixed
 * text encoded and the ids decoded back, so ids and tables the loader accepted are also used. */
#include <stdint.h>
#include <stdlib.h>

#include "seer/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  seer_error err = {0};
  seer_tokenizer *tok = NULL;
  if (seer_tokenizer_load_buffer((const char *)data, size, NULL, 0, &tok, &err) != 0) return 0;
  static const char text[] = "Hello world! <s> 123 \xc3\xa9t\xc3\xa9 \xe2\x96\x81x\n\t  end</s>";
  int32_t *ids = NULL;
  size_t n = 0;
  if (seer_tokenizer_encode(tok, text, sizeof text - 1, 1, &ids, &n, &err) == 0) {
    seer_buf out = SEER_BUF_INIT;
    seer_tokenizer_decode(tok, ids, n, 0, &out, &err);
    seer_buf_free(&out);
    for (size_t i = 0; i < n; i++)
      seer_tokenizer_id_to_token(tok, ids[i], NULL);
  }
  free(ids);
  /* Ids around the edges of the id space: lookups must answer "none", not read out of bounds. */
  int32_t edge[] = {-1, 0, (int32_t)seer_tokenizer_vocab_size(tok),
                    (int32_t)seer_tokenizer_vocab_size(tok) - 1, INT32_MAX};
  for (size_t i = 0; i < sizeof edge / sizeof *edge; i++)
    seer_tokenizer_id_to_token(tok, edge[i], NULL);
  seer_tokenizer_free(tok);
  return 0;
}
