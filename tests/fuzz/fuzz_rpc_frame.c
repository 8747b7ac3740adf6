/* fuzz_rpc_frame.c: libFuzzer harness for incoming RPC frames. The bytes are a stream from a peer:
 * seer_rpc_fuzz_decode (runtime/include/seer/rpc_frame.h) feeds them to the frame reader in uneven
 * chunks under the default, pre-authentication and tiny limits, and decodes every frame it lets
 * through. Seeds: tests/fuzz/corpus/rpc_frame/ (requests, responses, notifications, named
 * arguments, a tensor, the lone 0xc0 byte that used to crash the host). */
#include <stddef.h>
#include <stdint.h>

#include "seer/rpc_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return seer_rpc_fuzz_decode(data, size);
}
