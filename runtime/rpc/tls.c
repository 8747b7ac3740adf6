/* tls.c: optional TLS for RPC connections, through OpenSSL with memory BIOs (libuv does the
 * socket I/O; OpenSSL only turns bytes into bytes). There is no certificate authority: a server
 * presents a self-signed certificate made for it (seer_rpc_tls_make_cert), and a client accepts
 * exactly the certificate whose SHA-256 fingerprint it was given (pinned). TLS 1.3 only. */
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_internal.h"

/* Ciphertext read from the socket in one go. */
#define TLS_IN_SIZE (64 * 1024)
/* Ciphertext the session may hold undecrypted (a record is at most ~16 KiB; a peer that sends
 * what never becomes a record is cut off here, not buffered without bound). */
#define TLS_MAX_HELD (1024 * 1024)

struct seer_rpc_tls_ctx {
  SSL_CTX *ctx;
  int server;
  char pin[65]; /* client: the server certificate's SHA-256, lowercase hex */
};

struct seer_rpc_tls {
  SSL *ssl;
  BIO *rbio, *wbio; /* owned by ssl */
  int server, established;
  char pin[65];
  char in[TLS_IN_SIZE];
};

/* OpenSSL's last error as text (the queue is cleared). */
static void ssl_error(char *msg, size_t msglen, const char *what) {
  unsigned long e = ERR_get_error();
  char buf[200] = "";
  if (e) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  snprintf(msg, msglen, "TLS: %s%s%s", what, e ? ": " : "", buf);
}

static int cert_fingerprint(X509 *x, char out[65]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!X509_digest(x, EVP_sha256(), md, &n) || n != 32) return -1;
  for (unsigned i = 0; i < n; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
  return 0;
}

static char *bio_string(BIO *b) {
  char *data;
  long n = BIO_get_mem_data(b, &data);
  char *s = malloc((size_t)n + 1);
  if (!s) return NULL;
  memcpy(s, data, (size_t)n);
  s[n] = 0;
  return s;
}

int seer_rpc_tls_make_cert(char **cert_pem, char **key_pem, char fingerprint[65], seer_error *err) {
  *cert_pem = *key_pem = NULL;
  int rc = SEER_EIO;
  char msg[300];
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
  unsigned char serial[16];
  BIGNUM *bn = NULL;
  if (!key || !x || !cb || !kb || RAND_bytes(serial, sizeof serial) != 1) {
    ssl_error(msg, sizeof msg, "cannot make a key");
    goto done;
  }
  serial[0] &= 0x7f; /* a positive serial number */
  bn = BN_bin2bn(serial, sizeof serial, NULL);
  X509_NAME *name = X509_get_subject_name(x);
  if (!bn || !X509_set_version(x, 2) || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
      !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
      !X509_gmtime_adj(X509_getm_notAfter(x), 60L * 60 * 24 * 365) || !X509_set_pubkey(x, key) ||
      !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"seer-sandbox",
                                  -1, -1, 0) ||
      !X509_set_issuer_name(x, name) || !X509_sign(x, key, EVP_sha256()) ||
      !PEM_write_bio_X509(cb, x) || !PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) ||
      cert_fingerprint(x, fingerprint) != 0) {
    ssl_error(msg, sizeof msg, "cannot make a certificate");
    goto done;
  }
  *cert_pem = bio_string(cb);
  *key_pem = bio_string(kb);
  if (!*cert_pem || !*key_pem) {
    free(*cert_pem);
    free(*key_pem);
    *cert_pem = *key_pem = NULL;
    snprintf(msg, sizeof msg, "out of memory");
    rc = SEER_ENOMEM;
    goto done;
  }
  rc = SEER_OK;
done:
  BN_free(bn);
  BIO_free(cb);
  BIO_free(kb);
  X509_free(x);
  EVP_PKEY_free(key);
  if (rc != SEER_OK) return seer_errorf(err, rc, "%s", msg);
  return SEER_OK;
}

static SSL_CTX *new_ctx(const SSL_METHOD *m, char *msg, size_t msglen) {
  SSL_CTX *ctx = SSL_CTX_new(m);
  if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION)) {
    ssl_error(msg, msglen, "cannot set up");
    SSL_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

seer_rpc_tls_ctx *seer_rpc_tls_server_ctx(const char *cert_pem, const char *key_pem,
                                          seer_error *err) {
  char msg[300];
  seer_rpc_tls_ctx *t = calloc(1, sizeof *t);
  if (!t) {
    seer_errorf(err, SEER_ENOMEM, "out of memory");
    return NULL;
  }
  t->server = 1;
  BIO *cb = BIO_new_mem_buf(cert_pem, -1), *kb = BIO_new_mem_buf(key_pem, -1);
  X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
  EVP_PKEY *key = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
  t->ctx = new_ctx(TLS_server_method(), msg, sizeof msg);
  int ok = t->ctx != NULL;
  if (ok && (!x || !key)) {
    ssl_error(msg, sizeof msg, "cannot read the certificate or its key (PEM)");
    ok = 0;
  }
  if (ok && (SSL_CTX_use_certificate(t->ctx, x) != 1 || SSL_CTX_use_PrivateKey(t->ctx, key) != 1 ||
             SSL_CTX_check_private_key(t->ctx) != 1)) {
    ssl_error(msg, sizeof msg, "the key does not fit the certificate");
    ok = 0;
  }
  X509_free(x);
  EVP_PKEY_free(key);
  BIO_free(cb);
  BIO_free(kb);
  if (!ok) {
    seer_rpc_tls_ctx_free(t);
    seer_errorf(err, SEER_EINVAL, "%s", msg);
    return NULL;
  }
  return t;
}

/* The chain is not checked against any authority: the pin, checked once the handshake is done and
 * before anything is sent, is the whole trust. */
static int accept_any(int preverify, X509_STORE_CTX *x) {
  (void)preverify;
  (void)x;
  return 1;
}

seer_rpc_tls_ctx *seer_rpc_tls_client_ctx(const char *pin, seer_error *err) {
  size_t n = pin ? strlen(pin) : 0;
  if (n != 64 || strspn(pin, "0123456789abcdef") != 64) {
    seer_errorf(err, SEER_EINVAL,
                "TLS: the pin must be a SHA-256 fingerprint in 64 lowercase hex digits");
    return NULL;
  }
  char msg[300];
  seer_rpc_tls_ctx *t = calloc(1, sizeof *t);
  if (!t) {
    seer_errorf(err, SEER_ENOMEM, "out of memory");
    return NULL;
  }
  memcpy(t->pin, pin, 65);
  t->ctx = new_ctx(TLS_client_method(), msg, sizeof msg);
  if (!t->ctx) {
    free(t);
    seer_errorf(err, SEER_EIO, "%s", msg);
    return NULL;
  }
  SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, accept_any);
  return t;
}

void seer_rpc_tls_ctx_free(seer_rpc_tls_ctx *t) {
  if (!t) return;
  SSL_CTX_free(t->ctx); /* connections hold their own references */
  free(t);
}

seer_rpc_tls *seer_rpc__tls_new(const seer_rpc_tls_ctx *ctx, seer_error *err) {
  char msg[300];
  seer_rpc_tls *t = calloc(1, sizeof *t);
  if (!t) {
    seer_errorf(err, SEER_ENOMEM, "out of memory");
    return NULL;
  }
  t->server = ctx->server;
  memcpy(t->pin, ctx->pin, sizeof t->pin);
  t->ssl = SSL_new(ctx->ctx);
  t->rbio = BIO_new(BIO_s_mem());
  t->wbio = BIO_new(BIO_s_mem());
  if (!t->ssl || !t->rbio || !t->wbio) {
    ssl_error(msg, sizeof msg, "cannot start a session");
    BIO_free(t->rbio);
    BIO_free(t->wbio);
    SSL_free(t->ssl);
    free(t);
    seer_errorf(err, SEER_EIO, "%s", msg);
    return NULL;
  }
  SSL_set_bio(t->ssl, t->rbio, t->wbio);
  if (t->server)
    SSL_set_accept_state(t->ssl);
  else
    SSL_set_connect_state(t->ssl);
  return t;
}

void seer_rpc__tls_free(seer_rpc_tls *t) {
  if (!t) return;
  SSL_free(t->ssl);
  free(t);
}

char *seer_rpc__tls_in_buffer(seer_rpc_tls *t, size_t *cap) {
  *cap = sizeof t->in;
  return t->in;
}

int seer_rpc__tls_feed(seer_rpc_tls *t, size_t n) {
  if (BIO_ctrl_pending(t->rbio) + n > TLS_MAX_HELD) return -1;
  return BIO_write(t->rbio, t->in, (int)n) == (int)n ? 0 : -1;
}

int seer_rpc__tls_established(const seer_rpc_tls *t) { return t->established; }

/* A failed SSL call: 0 when it only wants more bytes, -1 with msg set otherwise. */
static int ssl_status(seer_rpc_tls *t, int r, const char *what, char *msg, size_t msglen) {
  int e = SSL_get_error(t->ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
  if (e == SSL_ERROR_ZERO_RETURN) {
    snprintf(msg, msglen, "TLS: the peer closed the session");
    return -1;
  }
  ssl_error(msg, msglen, what);
  return -1;
}

int seer_rpc__tls_handshake(seer_rpc_tls *t, char *msg, size_t msglen) {
  if (t->established) return 1;
  int r = SSL_do_handshake(t->ssl);
  if (r != 1) return ssl_status(t, r, "handshake failed", msg, msglen);
  if (!t->server) {
    X509 *peer = SSL_get1_peer_certificate(t->ssl);
    char fp[65] = "";
    int ok = peer && cert_fingerprint(peer, fp) == 0 && strcmp(fp, t->pin) == 0;
    X509_free(peer);
    if (!ok) {
      snprintf(msg, msglen,
               "TLS: the server's certificate is not the pinned one (sha256 %s, expected %s)",
               fp[0] ? fp : "none", t->pin);
      return -1;
    }
  }
  t->established = 1;
  return 1;
}

int seer_rpc__tls_read(seer_rpc_tls *t, char *out, size_t cap, size_t *got, char *msg,
                       size_t msglen) {
  *got = 0;
  int r = SSL_read(t->ssl, out, cap > (1u << 30) ? 1 << 30 : (int)cap);
  if (r > 0) {
    *got = (size_t)r;
    return 1;
  }
  return ssl_status(t, r, "read failed", msg, msglen);
}

int seer_rpc__tls_write(seer_rpc_tls *t, const char *data, size_t n, char *msg, size_t msglen) {
  while (n > 0) {
    int chunk = n > (1u << 30) ? 1 << 30 : (int)n;
    int r = SSL_write(t->ssl, data, chunk);
    if (r <= 0) {
      if (ssl_status(t, r, "write failed", msg, msglen) == 0)
        snprintf(msg, msglen, "TLS: write before the handshake finished");
      return -1;
    }
    data += r;
    n -= (size_t)r;
  }
  return 0;
}

char *seer_rpc__tls_take_output(seer_rpc_tls *t, size_t *n) {
  size_t pending = BIO_ctrl_pending(t->wbio);
  *n = 0;
  if (pending == 0) return NULL;
  char *data = malloc(pending);
  if (!data) return NULL;
  int r = BIO_read(t->wbio, data, (int)pending);
  if (r <= 0) {
    free(data);
    return NULL;
  }
  *n = (size_t)r;
  return data;
}
