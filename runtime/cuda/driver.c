/* driver.c: finds the NVIDIA driver at run time. libcuda is dlopen'ed and its entry points are
 * resolved into one table (driver_api.h) by the shared loader (dlib.h), so the same binary runs on
 * machines with and without a GPU. Each way of not finding a usable driver ends in one sentence
 * naming what is missing and what to do, which `seer-lua doctor` and `device = "cuda"` both print.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlib.h"
#include "driver_api.h"
#include "fatbin.h"
#include "seer/cuda.h"

#define SEER_DLIB_TABLE seer_cu_api
static const seer_dlib_entry entries[] = {SEER_CU_SYMBOLS(SEER_DLIB_ENTRY)};
static seer_cu_api loaded_api;
static seer_dlib driver = SEER_DLIB_INIT(entries, loaded_api);

const char *const *seer_cuda_symbol_names(void) { return seer_dlib_names(&driver); }
const char *seer_cuda_kernel_arches(void) { return seer_cuda_fatbin_arches; }
int seer_cuda_build_version(void) { return seer_cuda_fatbin_toolkit_version; }
const seer_cu_api *seer_cuda_api(void) { return seer_dlib_table(&driver); }

/* Kernels built by CUDA X.Y run on drivers of the same major version or newer (minor version
 * compatibility covers X.0 .. X.n); PTX also JITs only on a driver at least as new as the toolkit
 * major. Without kernels any driver is good enough to be reported. */
static int required_version(void) {
  int v = seer_cuda_fatbin_toolkit_version;
  return v > 0 ? v / 1000 * 1000 : 0;
}

static seer_cuda_state fail(seer_cuda_status *st, seer_cuda_state s, const char *fmt, ...) {
  st->state = s;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(st->message, sizeof st->message, fmt, ap);
  va_end(ap);
  return s;
}

static const char *error_text(const seer_cu_api *api, cu_result rc) {
  const char *s = NULL;
  if (api->get_error_string && api->get_error_string(rc, &s) == CU_OK && s) return s;
  return "unknown CUDA error";
}

static seer_cuda_state probe_locked(const char *path, int index, seer_cuda_status *st) {
  char why[256];
  void *h = seer_dlib_open(path, why, sizeof why);
  if (!h)
    return fail(st, SEER_CUDA_NO_LIBRARY,
                "no NVIDIA driver: %s could not be loaded (%s); install the NVIDIA driver, or use "
                "device = \"cpu\"",
                path, why);
  seer_cu_api api;
  memset(&api, 0, sizeof api);
  /* The version call first: on a library that is not the driver, or one too old, it says why
   * before the table is looked at. */
  api.driver_get_version = (cu_result(*)(int *))seer_dlib_sym(h, "cuDriverGetVersion");
  api.get_error_string =
      (cu_result(*)(cu_result, const char **))seer_dlib_sym(h, "cuGetErrorString");
  seer_cuda_state s;
  if (!api.driver_get_version) {
    s = fail(st, SEER_CUDA_NOT_A_DRIVER,
             "%s is not the NVIDIA driver library (it has no cuDriverGetVersion); install the "
             "NVIDIA driver, or point SEER_CUDA_LIBRARY at its libcuda.so.1",
             path);
    goto out;
  }
  int version = 0;
  cu_result rc = api.driver_get_version(&version);
  if (rc == CU_ERROR_STUB_LIBRARY) {
    s = fail(
        st, SEER_CUDA_STUB_LIBRARY,
        "%s is the CUDA toolkit's stub library, not the driver; install the NVIDIA driver "
        "(it provides libcuda.so.1) and take the toolkit's lib64/stubs out of the library path",
        path);
    goto out;
  }
  st->driver_version = version;
  if (rc != CU_OK || version < st->required_version) {
    s = fail(st, SEER_CUDA_OLD_DRIVER,
             "the NVIDIA driver supports CUDA %d.%d, but this build's kernels need CUDA %d.%d or "
             "newer; update the NVIDIA driver",
             version / 1000, version % 1000 / 10, st->required_version / 1000,
             st->required_version % 1000 / 10);
    goto out;
  }
  const char *missing;
  int n_missing = seer_dlib_resolve(&driver, h, &api, &missing);
  if (n_missing) {
    s = fail(st, SEER_CUDA_MISSING_SYMBOL,
             "the NVIDIA driver at %s (CUDA %d.%d) lacks %s%s; update the NVIDIA driver", path,
             version / 1000, version % 1000 / 10, missing,
             n_missing > 1 ? " and other entry points seer needs" : "");
    goto out;
  }
  rc = api.init(0);
  if (rc == CU_ERROR_STUB_LIBRARY) {
    s = fail(
        st, SEER_CUDA_STUB_LIBRARY,
        "%s is the CUDA toolkit's stub library, not the driver; install the NVIDIA driver "
        "(it provides libcuda.so.1) and take the toolkit's lib64/stubs out of the library path",
        path);
    goto out;
  }
  int count = 0;
  if (rc == CU_ERROR_NO_DEVICE ||
      (rc == CU_OK && api.device_get_count(&count) == CU_OK && !count)) {
    s = fail(st, SEER_CUDA_NO_DEVICE,
             "the NVIDIA driver (CUDA %d.%d) sees no GPU: check nvidia-smi and that /dev/nvidia* "
             "is present and readable",
             version / 1000, version % 1000 / 10);
    goto out;
  }
  if (rc != CU_OK) {
    s = fail(st, SEER_CUDA_INIT_FAILED,
             "the NVIDIA driver (CUDA %d.%d) failed to start: cuInit returned %d (%s); check "
             "nvidia-smi",
             version / 1000, version % 1000 / 10, rc, error_text(&api, rc));
    goto out;
  }
  st->device_count = count;
  if (index < 0 || index >= count) {
    s = fail(st, SEER_CUDA_BAD_DEVICE_INDEX,
             "device_index %d is out of range: the NVIDIA driver sees %d GPU%s (indices 0..%d)",
             index, count, count == 1 ? "" : "s", count - 1);
    goto out;
  }
  cu_device dev = 0;
  if ((rc = api.device_get(&dev, index)) != CU_OK ||
      (rc = api.device_get_name(st->device_name, (int)sizeof st->device_name, dev)) != CU_OK ||
      (rc = api.device_get_attribute(&st->cc_major, CU_ATTR_COMPUTE_CAPABILITY_MAJOR, dev)) ||
      (rc = api.device_get_attribute(&st->cc_minor, CU_ATTR_COMPUTE_CAPABILITY_MINOR, dev)) ||
      (rc = api.device_total_mem(&st->total_mem, dev)) != CU_OK) {
    s = fail(st, SEER_CUDA_INIT_FAILED, "the NVIDIA driver could not describe GPU %d: %s", index,
             error_text(&api, rc));
    goto out;
  }
  char what[256];
  snprintf(what, sizeof what, "%s (sm_%d%d, %.1f GiB), driver CUDA %d.%d", st->device_name,
           st->cc_major, st->cc_minor, (double)st->total_mem / (1024.0 * 1024 * 1024),
           version / 1000, version % 1000 / 10);
  if (!seer_cuda_fatbin_arches) {
    s = fail(st, SEER_CUDA_NO_KERNELS,
             "%s, but this build has no CUDA kernels (nvcc was not found when it was built); "
             "rebuild with the CUDA toolkit's nvcc on PATH",
             what);
    goto out;
  }
  if (st->cc_major < 8) {
    s = fail(st, SEER_CUDA_NO_DEVICE,
             "%s: seer's kernels need compute capability 8.0 (Ampere) or newer", what);
    goto out;
  }
  seer_dlib_keep(&driver, h, &api); /* the first usable driver stays for the process */
  return fail(st, SEER_CUDA_READY, "%s, kernels %s", what, seer_cuda_fatbin_arches);
out:
  seer_dlib_discard(&driver, h);
  return s;
}

int seer_cuda_library_path(const char *library, char *out, size_t n, char *why, size_t why_n) {
  if (!library) library = getenv("SEER_CUDA_LIBRARY");
  if (!library || !*library) library = "libcuda.so.1";
  pthread_mutex_lock(&driver.lock);
  int rc = seer_dlib_path(library, out, n, why, why_n);
  pthread_mutex_unlock(&driver.lock);
  return rc;
}

seer_cuda_state seer_cuda_probe(const char *library, int device_index, seer_cuda_status *st) {
  memset(st, 0, sizeof *st);
  st->required_version = required_version();
  if (!library) library = getenv("SEER_CUDA_LIBRARY");
  if (!library || !*library) library = "libcuda.so.1";
  pthread_mutex_lock(&driver.lock);
  seer_cuda_state s = probe_locked(library, device_index, st);
  pthread_mutex_unlock(&driver.lock);
  return s;
}
