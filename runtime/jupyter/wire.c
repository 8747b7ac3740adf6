/* wire.c: owns the Jupyter wire format's integrity: HMAC-SHA256 signatures (OpenSSL's EVP_MAC,
 * no hand-written crypto) over header, parent_header, metadata and content, compared in constant
 * time, and the split of a multipart message at its "<IDS|MSG>" delimiter. */
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

#include "seer/jupyter.h"

static const char DELIM[] = "<IDS|MSG>";

/* Fetching the HMAC implementation walks OpenSSL's provider tables: do it once per process. An
 * EVP_MAC may be shared by threads (the control thread checks signatures too). */
static EVP_MAC *hmac;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;
static void fetch_hmac(void) { hmac = EVP_MAC_fetch(NULL, "HMAC", NULL); }

int seer_jupyter_sign(const char *key, size_t key_len, const seer_jupyter_part *parts, int nparts,
                      char out[65], seer_error *err) {
  out[0] = '\0';
  if (key_len == 0) return 0;
  pthread_once(&hmac_once, fetch_hmac);
  EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                         OSSL_PARAM_construct_end()};
  unsigned char digest[32];
  size_t dlen = 0;
  int ok = ctx && EVP_MAC_init(ctx, (const unsigned char *)key, key_len, params);
  for (int i = 0; ok && i < nparts; i++)
    ok = EVP_MAC_update(ctx, (const unsigned char *)parts[i].data, parts[i].len);
  ok = ok && EVP_MAC_final(ctx, digest, &dlen, sizeof digest) && dlen == sizeof digest;
  EVP_MAC_CTX_free(ctx);
  if (!ok) return seer_errorf(err, SEER_EIO, "jupyter: HMAC-SHA256 failed in OpenSSL");
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    out[2 * i] = hex[digest[i] >> 4];
    out[2 * i + 1] = hex[digest[i] & 15];
  }
  out[64] = '\0';
  return 0;
}

int seer_jupyter_check(const char *key, size_t key_len, const seer_jupyter_msg *m,
                       seer_error *err) {
  int d = -1;
  for (int i = 0; i < m->nframes; i++)
    if (m->lens[i] == sizeof DELIM - 1 && memcmp(m->frames[i], DELIM, sizeof DELIM - 1) == 0) {
      d = i;
      break;
    }
  if (d < 0) return seer_errorf(err, SEER_EFORMAT, "no <IDS|MSG> delimiter");
  if (m->nframes - d - 1 < 5)
    return seer_errorf(err, SEER_EFORMAT, "%d frames after the delimiter, need 5",
                       m->nframes - d - 1);
  if (key_len == 0) return d;
  seer_jupyter_part parts[4];
  for (int i = 0; i < 4; i++)
    parts[i] = (seer_jupyter_part){m->frames[d + 2 + i], m->lens[d + 2 + i]};
  char want[65];
  int rc = seer_jupyter_sign(key, key_len, parts, 4, want, err);
  if (rc) return rc;
  if (m->lens[d + 1] != 64 || CRYPTO_memcmp(want, m->frames[d + 1], 64) != 0)
    return seer_errorf(err, SEER_EFORMAT, "bad signature");
  return d;
}
