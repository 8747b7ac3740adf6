/* fake_libcuda.c: stand-ins for libcuda.so.1 that exercise the driver loader's failure paths on
 * machines without a GPU (tests/c/test_cuda_loader.c). One source, built in variants:
 *   FAKE_OLD      reports CUDA 11.8 and has almost no entry points;
 *   FAKE_PARTIAL  reports CUDA 13.0 but lacks every entry point past cuGetErrorString;
 *   FAKE_NODEV    has every entry point seer resolves; cuInit says there is no device;
 *   FAKE_DEVICE   has every entry point and describes one sm_90 GPU (the success path). */
#include <stddef.h>
#include <string.h>

int cuDriverGetVersion(int *v) {
#ifdef FAKE_OLD
  *v = 11080;
#else
  *v = 13000;
#endif
  return 0;
}

int cuGetErrorString(int e, const char **s) {
  *s = e == 100 ? "no CUDA-capable device is detected" : "fake error";
  return 0;
}

#if defined(FAKE_PARTIAL) || defined(FAKE_NODEV) || defined(FAKE_DEVICE)
int cuInit(unsigned flags) {
#ifdef FAKE_NODEV
  return 100; /* CUDA_ERROR_NO_DEVICE */
#else
  return 0;
#endif
}
#endif

#if defined(FAKE_NODEV) || defined(FAKE_DEVICE)
int cuDeviceGetCount(int *n) {
  *n = 1;
  return 0;
}
int cuDeviceGet(int *d, int i) {
  *d = i;
  return 0;
}
int cuDeviceGetName(char *name, int len, int d) {
  strncpy(name, "Fake GPU", (size_t)len);
  return 0;
}
int cuDeviceGetAttribute(int *v, int attr, int d) {
  *v = attr == 75 ? 9 : 0; /* compute capability 9.0 */
  return 0;
}
int cuDeviceTotalMem_v2(size_t *b, int d) {
  *b = (size_t)80 << 30;
  return 0;
}
/* Entry points the loader resolves but these tests never call. */
#define UNUSED(name)                                                                               \
  int name(void) { return 999; }
UNUSED(cuDevicePrimaryCtxRetain)
UNUSED(cuDevicePrimaryCtxRelease_v2)
UNUSED(cuCtxSetCurrent)
UNUSED(cuCtxSynchronize)
UNUSED(cuModuleLoadData)
UNUSED(cuModuleGetFunction)
UNUSED(cuModuleUnload)
UNUSED(cuLaunchKernel)
UNUSED(cuMemAlloc_v2)
UNUSED(cuMemFree_v2)
UNUSED(cuMemGetInfo_v2)
UNUSED(cuMemHostAlloc)
UNUSED(cuMemFreeHost)
UNUSED(cuMemcpyHtoDAsync_v2)
UNUSED(cuMemcpyDtoHAsync_v2)
UNUSED(cuMemcpyDtoDAsync_v2)
UNUSED(cuMemsetD32Async)
UNUSED(cuStreamCreate)
UNUSED(cuStreamDestroy_v2)
UNUSED(cuStreamSynchronize)
UNUSED(cuStreamBeginCapture_v2)
UNUSED(cuStreamEndCapture)
UNUSED(cuGraphInstantiateWithFlags)
UNUSED(cuGraphLaunch)
UNUSED(cuGraphExecDestroy)
UNUSED(cuGraphDestroy)
#endif
