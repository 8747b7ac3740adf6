/* cublaslt.c: finds cuBLASLt at run time (cublaslt.h) through the same loader as the driver
 * (dlib.h), so the binary links no CUDA library; this file says what each failure means. The GEMM
 * that uses it is gpu.c's. */
#include "cublaslt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlib.h"
#include "seer/cuda.h"

#define SEER_DLIB_TABLE seer_lt_api
static const seer_dlib_entry entries[] = {SEER_LT_SYMBOLS(SEER_DLIB_ENTRY)};
static seer_lt_api loaded_api;
static seer_dlib cublaslt = SEER_DLIB_INIT(entries, loaded_api);

const char *const *seer_lt_symbol_names(void) { return seer_dlib_names(&cublaslt); }

static seer_lt_state fail(seer_lt_status *st, seer_lt_state s, const char *fmt, ...) {
  st->state = s;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(st->message, sizeof st->message, fmt, ap);
  va_end(ap);
  return s;
}

static seer_lt_state probe_locked(const char *path, seer_lt_status *st, const seer_lt_api **out) {
  char why[256];
  void *h = seer_dlib_open(path, why, sizeof why);
  if (!h)
    return fail(
        st, SEER_LT_NO_LIBRARY,
        "no cuBLASLt: %s could not be loaded (%s); prefill uses seer's own kernels (install "
        "the CUDA toolkit's cuBLAS, or set SEER_CUBLASLT_LIBRARY)",
        path, why);
  seer_lt_api api;
  memset(&api, 0, sizeof api);
  seer_lt_state s;
  api.get_version = (size_t(*)(void))seer_dlib_sym(h, "cublasLtGetVersion");
  if (!api.get_version) {
    s = fail(
        st, SEER_LT_NOT_CUBLASLT,
        "%s is not cuBLASLt (it has no cublasLtGetVersion); point SEER_CUBLASLT_LIBRARY at the "
        "toolkit's libcublasLt.so",
        path);
    goto out;
  }
  st->version = api.get_version();
  int need = seer_cuda_build_version() / 1000; /* the kernels' CUDA major; 0 without kernels */
  if (need && st->version / 10000 < (size_t)need) {
    s = fail(
        st, SEER_LT_OLD,
        "%s is cuBLASLt %zu.%zu, older than the CUDA %d this build's kernels come from; install "
        "cuBLAS %d or newer",
        path, st->version / 10000, st->version / 100 % 100, need, need);
    goto out;
  }
  const char *missing;
  int n_missing = seer_dlib_resolve(&cublaslt, h, &api, &missing);
  if (n_missing) {
    s = fail(st, SEER_LT_MISSING_SYMBOL, "cuBLASLt at %s lacks %s%s; install a complete cuBLAS",
             path, missing, n_missing > 1 ? " and other entry points seer needs" : "");
    goto out;
  }
  /* The first usable library stays for the process: cuBLASLt handles may point into it. */
  const seer_lt_api *kept = seer_dlib_keep(&cublaslt, h, &api);
  if (out) *out = kept;
  return fail(st, SEER_LT_READY, "cuBLASLt %zu.%zu.%zu (%s)", st->version / 10000,
              st->version / 100 % 100, st->version % 100, path);
out:
  seer_dlib_discard(&cublaslt, h);
  return s;
}

seer_lt_state seer_lt_probe(const char *library, seer_lt_status *st, const seer_lt_api **api) {
  memset(st, 0, sizeof *st);
  if (api) *api = NULL;
  char soname[64];
  if (!library) library = getenv("SEER_CUBLASLT_LIBRARY");
  if (!library || !*library) {
    int major = seer_cuda_build_version() / 1000;
    if (major)
      snprintf(soname, sizeof soname, "libcublasLt.so.%d", major);
    else
      snprintf(soname, sizeof soname, "libcublasLt.so");
    library = soname;
  }
  pthread_mutex_lock(&cublaslt.lock);
  seer_lt_state s = probe_locked(library, st, api);
  pthread_mutex_unlock(&cublaslt.lock);
  return s;
}

int seer_cuda_cublaslt_describe(char *msg, size_t n) {
  seer_lt_status st;
  int ok = seer_lt_probe(NULL, &st, NULL) == SEER_LT_READY;
  snprintf(msg, n, "%s", st.message);
  return ok;
}
