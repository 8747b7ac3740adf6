/* driver_api.h: the subset of the CUDA driver API that seer uses, as one table of function pointers
 * filled by dlopen("libcuda.so.1") (runtime/cuda/driver.c through dlib.h). The types are declared
 * here, not taken from <cuda.h>, so that a build without the toolkit still has the loader and
 * `seer-lua doctor` can say what the machine offers. The names are the versioned ones (_v2) that
 * cuda.h maps the plain names to; tests/c/test_cuda_loader.c checks them against the installed
 * header when there is one.
 */
#ifndef SEER_CUDA_DRIVER_API_H
#define SEER_CUDA_DRIVER_API_H

#include <stddef.h>

#include "dlib.h"

typedef int cu_result; /* CUresult: 0 = CUDA_SUCCESS */
typedef int cu_device;
typedef unsigned long long cu_ptr; /* CUdeviceptr */
typedef void *cu_context, *cu_module, *cu_function, *cu_stream, *cu_graph, *cu_graph_exec;

enum {
  CU_OK = 0,
  CU_ERROR_NO_DEVICE = 100,
  CU_ERROR_STUB_LIBRARY = 34,
  CU_ERROR_INSUFFICIENT_DRIVER = 35,
  CU_ATTR_COMPUTE_CAPABILITY_MAJOR = 75,
  CU_ATTR_COMPUTE_CAPABILITY_MINOR = 76,
  CU_ATTR_MULTIPROCESSOR_COUNT = 16,
};

/* X(field, symbol, return, params): one row per driver entry point. */
#define SEER_CU_SYMBOLS(X)                                                                         \
  X(init, "cuInit", cu_result, (unsigned flags))                                                   \
  X(driver_get_version, "cuDriverGetVersion", cu_result, (int *version))                           \
  X(get_error_string, "cuGetErrorString", cu_result, (cu_result e, const char **s))                \
  X(device_get_count, "cuDeviceGetCount", cu_result, (int *n))                                     \
  X(device_get, "cuDeviceGet", cu_result, (cu_device * d, int ordinal))                            \
  X(device_get_name, "cuDeviceGetName", cu_result, (char *name, int len, cu_device d))             \
  X(device_get_attribute, "cuDeviceGetAttribute", cu_result, (int *v, int attr, cu_device d))      \
  X(device_total_mem, "cuDeviceTotalMem_v2", cu_result, (size_t * bytes, cu_device d))             \
  X(primary_ctx_retain, "cuDevicePrimaryCtxRetain", cu_result, (cu_context * c, cu_device d))      \
  X(primary_ctx_release, "cuDevicePrimaryCtxRelease_v2", cu_result, (cu_device d))                 \
  X(ctx_set_current, "cuCtxSetCurrent", cu_result, (cu_context c))                                 \
  X(ctx_synchronize, "cuCtxSynchronize", cu_result, (void))                                        \
  X(module_load_data, "cuModuleLoadData", cu_result, (cu_module * m, const void *image))           \
  X(module_get_function, "cuModuleGetFunction", cu_result,                                         \
    (cu_function * f, cu_module m, const char *name))                                              \
  X(module_unload, "cuModuleUnload", cu_result, (cu_module m))                                     \
  X(launch_kernel, "cuLaunchKernel", cu_result,                                                    \
    (cu_function f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,  \
     unsigned smem, cu_stream s, void **params, void **extra))                                     \
  X(mem_alloc, "cuMemAlloc_v2", cu_result, (cu_ptr * p, size_t bytes))                             \
  X(mem_free, "cuMemFree_v2", cu_result, (cu_ptr p))                                               \
  X(mem_get_info, "cuMemGetInfo_v2", cu_result, (size_t * free_bytes, size_t * total_bytes))       \
  X(mem_host_alloc, "cuMemHostAlloc", cu_result, (void **p, size_t bytes, unsigned flags))         \
  X(mem_free_host, "cuMemFreeHost", cu_result, (void *p))                                          \
  X(memcpy_htod_async, "cuMemcpyHtoDAsync_v2", cu_result,                                          \
    (cu_ptr dst, const void *src, size_t n, cu_stream s))                                          \
  X(memcpy_dtoh_async, "cuMemcpyDtoHAsync_v2", cu_result,                                          \
    (void *dst, cu_ptr src, size_t n, cu_stream s))                                                \
  X(memcpy_dtod_async, "cuMemcpyDtoDAsync_v2", cu_result,                                          \
    (cu_ptr dst, cu_ptr src, size_t n, cu_stream s))                                               \
  X(memset_d32_async, "cuMemsetD32Async", cu_result,                                               \
    (cu_ptr dst, unsigned v, size_t n, cu_stream s))                                               \
  X(stream_create, "cuStreamCreate", cu_result, (cu_stream * s, unsigned flags))                   \
  X(stream_destroy, "cuStreamDestroy_v2", cu_result, (cu_stream s))                                \
  X(stream_synchronize, "cuStreamSynchronize", cu_result, (cu_stream s))                           \
  X(stream_begin_capture, "cuStreamBeginCapture_v2", cu_result, (cu_stream s, int mode))           \
  X(stream_end_capture, "cuStreamEndCapture", cu_result, (cu_stream s, cu_graph * g))              \
  X(graph_instantiate, "cuGraphInstantiateWithFlags", cu_result,                                   \
    (cu_graph_exec * e, cu_graph g, unsigned long long flags))                                     \
  X(graph_launch, "cuGraphLaunch", cu_result, (cu_graph_exec e, cu_stream s))                      \
  X(graph_exec_destroy, "cuGraphExecDestroy", cu_result, (cu_graph_exec e))                        \
  X(graph_destroy, "cuGraphDestroy", cu_result, (cu_graph g))

typedef struct seer_cu_api {
  SEER_CU_SYMBOLS(SEER_DLIB_FIELD)
} seer_cu_api;

/* The loaded table, or NULL when seer_cuda_probe() has not found a usable driver. */
const seer_cu_api *seer_cuda_api(void);

#endif
