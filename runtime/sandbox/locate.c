/* locate.c: owns finding the sandbox helper executable, `seer-sandbox`. A program that embeds
 * libseer is not the helper, so the runtime never re-executes itself (/proc/self/exe): it runs
 * $SEER_HELPER when set, else the helper installed beside the binary or shared library that holds
 * this code: in the same directory (the build tree), or in libexec/seer next to it (an install,
 * with lib/ or lib/<multiarch>/ beside libexec/). */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "seer/sandbox.h"

#define HELPER_NAME "seer-sandbox"

static const char *const relative_dirs[] = {"", "/../libexec/seer", "/../../libexec/seer"};

/* Directory of the object (executable or shared library) that holds this function. */
static int own_dir(char *out, size_t n) {
  Dl_info info;
  char real[PATH_MAX];
  const char *file = NULL;
  /* For the main executable glibc reports argv[0], which may be relative or a bare name. */
  if (dladdr((void *)own_dir, &info) != 0 && info.dli_fname && info.dli_fname[0] == '/' &&
      strcmp(info.dli_fname, program_invocation_name) != 0 && realpath(info.dli_fname, real))
    file = real;
  if (!file) { /* linked into the executable: ask the kernel where that is */
    ssize_t len = readlink("/proc/self/exe", real, sizeof real - 1);
    if (len < 0) return -1;
    real[len] = '\0';
    file = real;
  }
  const char *slash = strrchr(file, '/');
  size_t dir_len = slash ? (size_t)(slash - file) : 0;
  if (dir_len + 1 > n) return -1;
  memcpy(out, file, dir_len);
  out[dir_len] = '\0';
  return 0;
}

int seer_sandbox_helper_path(char *out, size_t n, seer_error *err) {
  const char *env = getenv("SEER_HELPER");
  if (env && *env) {
    if (env[0] != '/' || access(env, X_OK) != 0)
      return seer_errorf(err, SEER_EINVAL,
                         "sandbox: SEER_HELPER='%s' is not an absolute path to an executable "
                         "(point it at the installed seer-sandbox)",
                         env);
    if (snprintf(out, n, "%s", env) >= (int)n)
      return seer_errorf(err, SEER_EINVAL, "sandbox: SEER_HELPER is too long");
    return SEER_OK;
  }
  char dir[PATH_MAX];
  if (own_dir(dir, sizeof dir) != 0)
    return seer_error_errno(err, SEER_EIO, errno, "sandbox: cannot tell where libseer is");
  for (size_t i = 0; i < sizeof relative_dirs / sizeof relative_dirs[0]; i++) {
    char candidate[PATH_MAX + 64];
    snprintf(candidate, sizeof candidate, "%s%s/" HELPER_NAME, dir, relative_dirs[i]);
    char real[PATH_MAX];
    if (access(candidate, X_OK) == 0 && realpath(candidate, real)) {
      if (snprintf(out, n, "%s", real) >= (int)n)
        return seer_errorf(err, SEER_EINVAL, "sandbox: helper path too long: %s", real);
      return SEER_OK;
    }
  }
  return seer_errorf(err, SEER_ENOTSUP,
                     "sandbox: cannot find the helper '" HELPER_NAME "' in %s, %s/../libexec/seer "
                     "or %s/../../libexec/seer; install it with libseer or set SEER_HELPER to its "
                     "path",
                     dir, dir, dir);
}
