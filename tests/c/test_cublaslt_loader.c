/* The cuBLASLt loader (runtime/cuda/cublaslt.c) without a GPU: no library, a library that is not
 * cuBLASLt, one too old, one missing entry points (tests/cuda/fake_cublaslt.c), and the toolkit's
 * real libcublasLt when it is installed; the constants and the heuristic result's layout match
 * cublasLt.h when the header is there. */
#include <stdlib.h>

#include "../../runtime/cuda/cublaslt.h"
#include "check.h"
#include "seer/cuda.h"

#ifdef SEER_HAVE_CUDA_H
#include <cublasLt.h>
#endif

static seer_lt_status st;

static void expect(const char *lib, seer_lt_state want, const char *needle) {
  const seer_lt_api *api = NULL;
  seer_lt_state got = seer_lt_probe(lib, &st, &api);
  CHECK_MSG(got == want, "%s: state %d, want %d (%s)", lib ? lib : "(default)", (int)got, (int)want,
            st.message);
  CHECK_STR_CONTAINS(st.message, needle);
  CHECK_MSG(strchr(st.message, '\n') == NULL, "one line: %s", st.message);
  CHECK((api != NULL) == (want == SEER_LT_READY));
}

static const char *fake(const char *variant) {
  char name[64];
  snprintf(name, sizeof name, "SEER_FAKE_CUBLASLT_%s", variant);
  const char *p = getenv(name);
  if (!p) {
    fprintf(stderr, "%s is not set (run through ctest)\n", name);
    exit(1);
  }
  return p;
}

static void test_failure_paths(void) {
  expect("/nonexistent/libcublasLt.so.13", SEER_LT_NO_LIBRARY, "no cuBLASLt");
  expect("libm.so.6", SEER_LT_NOT_CUBLASLT, "is not cuBLASLt");
  if (seer_cuda_build_version() >= 12000) {
    expect(fake("OLD"), SEER_LT_OLD, "is cuBLASLt 11.8, older than the CUDA");
  } else { /* no kernels to be older than: the fake then lacks entry points */
    expect(fake("OLD"), SEER_LT_MISSING_SYMBOL, "lacks cublasLtCreate and other");
  }
  expect(fake("PARTIAL"), SEER_LT_MISSING_SYMBOL, "lacks cublasLtDestroy and other entry points");
  setenv("SEER_CUBLASLT_LIBRARY", fake("PARTIAL"), 1);
  expect(NULL, SEER_LT_MISSING_SYMBOL, "lacks cublasLtDestroy");
  unsetenv("SEER_CUBLASLT_LIBRARY");
}

/* The toolkit's libcublasLt loads and answers its version without a GPU. */
static void test_real_library(void) {
  seer_lt_status s;
  if (seer_lt_probe(NULL, &s, NULL) == SEER_LT_NO_LIBRARY) {
    printf("no libcublasLt here (%s): success path skipped\n", s.message);
    return;
  }
  expect(NULL, SEER_LT_READY, "cuBLASLt ");
  CHECK(st.version >= 110000);
}

static void test_names_and_layout(void) {
  const char *const *names = seer_lt_symbol_names();
  size_t n = 0;
  while (names[n])
    n++;
  CHECK(n == 13);
#ifdef SEER_HAVE_CUDA_H
  CHECK((int)SEER_LT_COMPUTE_32F == (int)CUBLAS_COMPUTE_32F);
  CHECK((int)SEER_LT_R_32F == (int)CUDA_R_32F);
  CHECK((int)SEER_LT_R_16BF == (int)CUDA_R_16BF);
  CHECK((int)SEER_LT_DESC_TRANSA == (int)CUBLASLT_MATMUL_DESC_TRANSA);
  CHECK((int)SEER_LT_DESC_TRANSB == (int)CUBLASLT_MATMUL_DESC_TRANSB);
  CHECK((int)SEER_LT_OP_N == (int)CUBLAS_OP_N && (int)SEER_LT_OP_T == (int)CUBLAS_OP_T);
  CHECK((int)SEER_LT_PREF_WORKSPACE == (int)CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES);
  CHECK((int)SEER_LT_PREF_ALIGN_A == (int)CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES);
  CHECK((int)SEER_LT_PREF_ALIGN_B == (int)CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES);
  CHECK((int)SEER_LT_PREF_ALIGN_C == (int)CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES);
  CHECK((int)SEER_LT_PREF_ALIGN_D == (int)CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES);
  CHECK(sizeof(seer_lt_heuristic) == sizeof(cublasLtMatmulHeuristicResult_t));
  CHECK(offsetof(seer_lt_heuristic, workspace_size) ==
        offsetof(cublasLtMatmulHeuristicResult_t, workspaceSize));
  CHECK(offsetof(seer_lt_heuristic, state) == offsetof(cublasLtMatmulHeuristicResult_t, state));
  printf("cublasLt.h checked\n");
#else
  printf("no cublasLt.h: constants unchecked\n");
#endif
}

int main(void) {
  test_failure_paths();
  test_real_library();
  test_names_and_layout();
  return check_summary();
}
