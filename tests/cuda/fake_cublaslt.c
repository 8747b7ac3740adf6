/* fake_cublaslt.c: stand-ins for libcublasLt that exercise the cuBLASLt loader's failure paths
 * (tests/c/test_cublaslt_loader.c). One source, built in variants:
 *   FAKE_OLD      reports cuBLASLt 11.8 and has nothing else;
 *   FAKE_PARTIAL  reports cuBLASLt 13.0 and has cublasLtCreate, but not cublasLtMatmul and the
 * rest. */
#include <stddef.h>

size_t cublasLtGetVersion(void) {
#ifdef FAKE_OLD
  return 110800;
#else
  return 130000;
#endif
}

#ifdef FAKE_PARTIAL
int cublasLtCreate(void **h) {
  *h = NULL;
  return 0;
}
#endif
