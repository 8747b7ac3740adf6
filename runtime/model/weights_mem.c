/* weights_mem.c: owns where a model's weight files live in memory, and the policy choosing it.
 *
 * - "map": the file mapped read-only at a 2 MiB-aligned address, with MADV_HUGEPAGE. The pages
 *   are the page cache's, shared with every other process that maps the file, and free to drop.
 *   Whether the kernel backs them with 2 MiB pages depends on the file system and kernel
 *   (large folios, CONFIG_READ_ONLY_THP_FOR_FS); on many it does not, and the decode GEMV then
 *   walks 4 KiB pages (one TLB entry per 4 KiB of a 2 GB stream).
 * - "copy": the file read into anonymous memory at a 2 MiB-aligned address with MADV_HUGEPAGE,
 *   then made read-only. Transparent huge pages back it wherever THP is "always" or "madvise".
 *   It costs private memory (counted in a sandbox's memory limit) the size of the file, and a
 *   read of the whole file at load.
 * - "auto" (the default): copy when the file is at least 64 MiB (below that a TLB miss per 4 KiB
 *   costs little, and each copy takes whole 2 MiB pages), transparent huge pages are enabled, and
 *   the file fits in a quarter of MemAvailable and of SEER_MEMORY_LIMIT (a sandbox's memory
 *   limit in bytes, which seer.environment sets inside its sandboxes); map otherwise.
 *   bench_decode_ab measured the copy at 1.08-4.2x the mapping's decode tokens/s and 0.87-1.06x its
 *   CPU time per token (bench/README.md, "weights").
 * SEER_WEIGHTS=map|copy|auto chooses; anything else is refused with a message naming it. */
#include "weights_mem.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_2M ((size_t)2 << 20)

static const char *const policy_names[] = {"auto", "map", "copy"};

int seer_weights_policy_get(seer_weights_policy *out, seer_error *err) {
  const char *v = getenv("SEER_WEIGHTS");
  *out = SEER_WEIGHTS_AUTO;
  if (!v || !*v) return 0;
  for (int i = 0; i < 3; i++)
    if (!strcmp(v, policy_names[i])) {
      *out = (seer_weights_policy)i;
      return 0;
    }
  return seer_errorf(err, SEER_EINVAL, "SEER_WEIGHTS='%s': expected map, copy or auto", v);
}

/* A field of /proc/meminfo, in KiB, or -1. */
static long long meminfo_kb(const char *key) {
  FILE *f = fopen("/proc/meminfo", "re");
  if (!f) return -1;
  char line[256];
  long long v = -1;
  size_t n = strlen(key);
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, key, n) && line[n] == ':') {
      v = atoll(line + n + 1);
      break;
    }
  fclose(f);
  return v;
}

/* THP for anonymous memory that asks for it: "[always]" or "[madvise]", not "[never]". */
static int thp_enabled(void) {
  FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
  if (!f) return 0;
  char line[128] = "";
  int ok = fgets(line, sizeof line, f) != NULL && strstr(line, "[never]") == NULL;
  fclose(f);
  return ok;
}

#define AUTO_MIN_BYTES ((size_t)64 << 20)

static int auto_copies(size_t size) {
  if (size < AUTO_MIN_BYTES || !thp_enabled()) return 0;
  long long avail = meminfo_kb("MemAvailable");
  if (avail < 0 || (double)size > (double)avail * 1024.0 / 4) return 0;
  const char *lim = getenv("SEER_MEMORY_LIMIT");
  long long limit = lim ? atoll(lim) : 0;
  return limit <= 0 || (double)size <= (double)limit / 4;
}

/* A 2 MiB-aligned range of `len` bytes of address space, reserved (PROT_NONE) for MAP_FIXED. The
 * slack around it is unmapped; len is taken up to whole pages, so that none of the slack stays. */
static uint8_t *reserve_aligned(size_t len) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  len = (len + page - 1) & ~(page - 1);
  uint8_t *r =
      mmap(NULL, len + HUGE_2M, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (r == MAP_FAILED) return NULL;
  uint8_t *a = (uint8_t *)(((uintptr_t)r + HUGE_2M - 1) & ~(uintptr_t)(HUGE_2M - 1));
  if (a > r) munmap(r, (size_t)(a - r));
  size_t tail = (size_t)((r + len + HUGE_2M) - (a + len));
  if (tail) munmap(a + len, tail);
  return a;
}

static int place_map(int fd, size_t size, const char *path, seer_weights_mem *out,
                     seer_error *err) {
  uint8_t *a = reserve_aligned(size);
  void *p = a ? mmap(a, size, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0) : MAP_FAILED;
  if (p == MAP_FAILED) {
    int e = errno;
    if (a) munmap(a, size);
    return seer_error_errno(err, SEER_EIO, e, "%s: cannot mmap", path);
  }
  (void)madvise(p, size, MADV_HUGEPAGE); /* advice: refused where file THP is not supported */
  out->base = p;
  out->len = size;
  out->copied = 0;
  return 0;
}

static int place_copy(int fd, size_t size, const char *path, seer_weights_mem *out,
                      seer_error *err) {
  size_t len = (size + HUGE_2M - 1) & ~(HUGE_2M - 1);
  uint8_t *a = reserve_aligned(len);
  if (!a || mprotect(a, len, PROT_READ | PROT_WRITE) != 0) {
    if (a) munmap(a, len);
    return seer_errorf(err, SEER_ENOMEM, "%s: out of memory for a %zu-byte copy", path, size);
  }
  (void)madvise(a, len, MADV_HUGEPAGE);
  size_t off = 0;
  while (off < size) {
    size_t want = size - off < ((size_t)64 << 20) ? size - off : ((size_t)64 << 20);
    ssize_t n = pread(fd, a + off, want, (off_t)off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = n < 0 ? errno : 0;
      munmap(a, len);
      if (e) return seer_error_errno(err, SEER_EIO, e, "%s: cannot read", path);
      return seer_errorf(err, SEER_EIO, "%s: file shrank while being read (%zu of %zu bytes)", path,
                         off, size);
    }
    off += (size_t)n;
  }
  mprotect(a, len, PROT_READ); /* like the mapping: the weights are never written through */
  out->base = a;
  out->len = len;
  out->copied = 1;
  return 0;
}

int seer_weights_place(int fd, size_t size, const char *path, seer_weights_policy policy,
                       seer_weights_mem *out, seer_error *err) {
  memset(out, 0, sizeof *out);
  if (!size) return 0;
  int copy = policy == SEER_WEIGHTS_COPY || (policy == SEER_WEIGHTS_AUTO && auto_copies(size));
  return copy ? place_copy(fd, size, path, out, err) : place_map(fd, size, path, out, err);
}

void seer_weights_release(seer_weights_mem *m) {
  if (m->base && m->len) munmap(m->base, m->len);
  m->base = NULL;
  m->len = 0;
}
