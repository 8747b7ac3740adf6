/* The CUDA driver loader (runtime/cuda/driver.c) on machines without a GPU: each way of not having
 * a usable driver gives its state and one sentence, and the versioned entry point names match the
 * toolkit header when one is installed. The fakes are built from tests/cuda/fake_libcuda.c. */
#include <glob.h>
#include <stdlib.h>

#include "check.h"
#include "seer/cuda.h"

#ifdef SEER_HAVE_CUDA_H
#include <cuda.h>
#endif

static seer_cuda_status st;

static void expect(const char *lib, int index, seer_cuda_state want, const char *needle) {
  seer_cuda_state got = seer_cuda_probe(lib, index, &st);
  CHECK_MSG(got == want, "%s: state %d, want %d (%s)", lib, (int)got, (int)want, st.message);
  CHECK_STR_CONTAINS(st.message, needle);
  CHECK_MSG(strchr(st.message, '\n') == NULL, "one line: %s", st.message);
}

static const char *fake(const char *variant) {
  char name[64];
  snprintf(name, sizeof name, "SEER_FAKE_CUDA_%s", variant);
  const char *p = getenv(name);
  if (!p) {
    fprintf(stderr, "%s is not set (run through ctest)\n", name);
    exit(1);
  }
  return p;
}

static void test_failure_paths(void) {
  int kernels = seer_cuda_build_version() > 0;
  expect("/nonexistent/libcuda.so.1", 0, SEER_CUDA_NO_LIBRARY, "no NVIDIA driver");
  expect("/nonexistent/libcuda.so.1", 0, SEER_CUDA_NO_LIBRARY, "install the NVIDIA driver");
  /* A library that is not a driver at all. */
  expect("libm.so.6", 0, SEER_CUDA_NOT_A_DRIVER, "is not the NVIDIA driver library");
  if (kernels) {
    expect(fake("OLD"), 0, SEER_CUDA_OLD_DRIVER, "supports CUDA 11.8, but this build's kernels");
    CHECK(st.driver_version == 11080);
  } else {
    expect(fake("OLD"), 0, SEER_CUDA_MISSING_SYMBOL, "lacks cuInit");
  }
  expect(fake("PARTIAL"), 0, SEER_CUDA_MISSING_SYMBOL, "lacks cuDeviceGetCount and other");
  expect(fake("NODEV"), 0, SEER_CUDA_NO_DEVICE, "sees no GPU");
  if (kernels) {
    expect(fake("DEVICE"), 0, SEER_CUDA_READY, "Fake GPU (sm_90, 80.0 GiB), driver CUDA 13.0");
    CHECK_STR_CONTAINS(st.message, "sm_80 sm_86 sm_89 sm_90");
  } else {
    expect(fake("DEVICE"), 0, SEER_CUDA_NO_KERNELS, "this build has no CUDA kernels");
  }
  CHECK(st.device_count == 1 && st.cc_major == 9 && st.cc_minor == 0);
  expect(fake("DEVICE"), 3, SEER_CUDA_BAD_DEVICE_INDEX, "device_index 3 is out of range");
  /* $SEER_CUDA_LIBRARY picks the library when none is passed. */
  setenv("SEER_CUDA_LIBRARY", fake("NODEV"), 1);
  expect(NULL, 0, SEER_CUDA_NO_DEVICE, "sees no GPU");
  unsetenv("SEER_CUDA_LIBRARY");
}

/* The toolkit's link-time stub must be told apart from a driver. */
static void test_stub_library(void) {
  glob_t g;
  if (glob("/usr/local/cuda*/lib64/stubs/libcuda.so", 0, NULL, &g) != 0) {
    printf("no CUDA toolkit stub library here: stub check skipped\n");
    return;
  }
  expect(g.gl_pathv[0], 0, SEER_CUDA_STUB_LIBRARY, "stub library, not the driver");
  globfree(&g);
}

static void test_symbol_names(void) {
  const char *const *names = seer_cuda_symbol_names();
  size_t n = 0;
  while (names[n])
    n++;
  CHECK(n >= 30);
#ifdef SEER_HAVE_CUDA_H
#define S2(x) #x
#define S(x) S2(x)
  /* The names cuda.h maps each plain name to, in the loader's table order. */
  const char *header[] = {S(cuInit),
                          S(cuDriverGetVersion),
                          S(cuGetErrorString),
                          S(cuDeviceGetCount),
                          S(cuDeviceGet),
                          S(cuDeviceGetName),
                          S(cuDeviceGetAttribute),
                          S(cuDeviceTotalMem),
                          S(cuDevicePrimaryCtxRetain),
                          S(cuDevicePrimaryCtxRelease),
                          S(cuCtxSetCurrent),
                          S(cuCtxSynchronize),
                          S(cuModuleLoadData),
                          S(cuModuleGetFunction),
                          S(cuModuleUnload),
                          S(cuLaunchKernel),
                          S(cuMemAlloc),
                          S(cuMemFree),
                          S(cuMemGetInfo),
                          S(cuMemHostAlloc),
                          S(cuMemFreeHost),
                          S(cuMemcpyHtoDAsync),
                          S(cuMemcpyDtoHAsync),
                          S(cuMemcpyDtoDAsync),
                          S(cuMemsetD32Async),
                          S(cuStreamCreate),
                          S(cuStreamDestroy),
                          S(cuStreamSynchronize),
                          S(cuStreamBeginCapture),
                          S(cuStreamEndCapture),
                          S(cuGraphInstantiateWithFlags),
                          S(cuGraphLaunch),
                          S(cuGraphExecDestroy),
                          S(cuGraphDestroy)};
  CHECK_MSG(n == sizeof header / sizeof header[0], "%zu names, header list has %zu", n,
            sizeof header / sizeof header[0]);
  for (size_t i = 0; i < n && i < sizeof header / sizeof header[0]; i++)
    CHECK_MSG(!strcmp(names[i], header[i]), "loader resolves %s, cuda.h maps to %s", names[i],
              header[i]);
#else
  printf("no cuda.h: header name check skipped\n");
#endif
}

int main(void) {
  test_failure_paths();
  test_stub_library();
  test_symbol_names();
  return check_summary();
}
