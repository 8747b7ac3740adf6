/* cpu_isa.c: owns the run-time choice of the CPU kernels' instruction-set level. The binary is
 * built for plain x86-64; the per-level kernels are compiled per file with their own flags
 * (cpu_*_avx2.c, cpu_*_avx512.c) and one table of them is picked here, once, from CPUID and from
 * which register states the OS saves (XGETBV), lowered by $SEER_CPU when set. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <sys/syscall.h>
#define SEER_X86 1
#endif

const seer_cpu_kernels *seer_cpu_active;

static const char *const level_names[SEER_CPU_NLEVELS] = {"generic", "avx2", "avx512", "avx512bf16",
                                                          "amx"};

#ifdef SEER_X86
static uint64_t xgetbv0(void) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

/* AMX tile data is off for a process until it asks (Linux 5.16+): without this the first tile
 * load faults. */
static int amx_permitted(void) {
#ifdef SYS_arch_prctl
  const long ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18;
  return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#else
  return 0;
#endif
}

static seer_cpu_level_id detect(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return SEER_CPU_GENERIC;
  int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
  if (!(osxsave && avx && fma && f16c)) return SEER_CPU_GENERIC;
  uint64_t xcr0 = xgetbv0();
  if ((xcr0 & 0x6) != 0x6) return SEER_CPU_GENERIC; /* the OS does not save YMM state */
  if (__get_cpuid_max(0, NULL) < 7) return SEER_CPU_GENERIC;
  __cpuid_count(7, 0, a, b, c, d);
  if (!((b >> 5) & 1)) return SEER_CPU_GENERIC; /* AVX2 */
  unsigned edx7 = d;
  int avx512 = ((b >> 16) & 1) && ((b >> 30) & 1) && ((b >> 31) & 1); /* F, BW, VL */
  if (!avx512 || (xcr0 & 0xE0) != 0xE0) return SEER_CPU_AVX2; /* opmask, ZMM_Hi256, Hi16_ZMM */
  unsigned eax71 = 0, u;
  __cpuid_count(7, 1, eax71, u, u, u);
  if (!((eax71 >> 5) & 1)) return SEER_CPU_AVX512;    /* AVX512_BF16 */
  int amx = ((edx7 >> 22) & 1) && ((edx7 >> 24) & 1); /* AMX-BF16, AMX-TILE */
  if (!amx || (xcr0 & 0x60000) != 0x60000 || !amx_permitted()) return SEER_CPU_AVX512BF16;
  return SEER_CPU_AMX;
}
#else
static seer_cpu_level_id detect(void) { return SEER_CPU_GENERIC; }
#endif

static seer_cpu_level_id best_level = SEER_CPU_NLEVELS, active_level = SEER_CPU_GENERIC;

/* The kernels a level runs. AVX512_BF16 and AMX take bf16 activations; rounding activations to
 * bf16 is not done (see bench/README.md, "ISA levels"), so those levels run the AVX-512 kernels
 * with f32 activations and bf16 weights widened to f32. */
static const seer_cpu_kernels *table_for(seer_cpu_level_id l) {
#ifdef SEER_X86
  switch (l) {
  case SEER_CPU_GENERIC: return &seer_cpu_generic_kernels;
  case SEER_CPU_AVX2: return &seer_cpu_avx2_kernels;
  default: return &seer_cpu_avx512_kernels;
  }
#else
  (void)l;
  return &seer_cpu_generic_kernels;
#endif
}

static const seer_cpu_kernels *choose(void) {
  best_level = detect();
  active_level = best_level;
  const char *want = getenv("SEER_CPU");
  if (want && *want) {
    int found = -1;
    for (int i = 0; i < SEER_CPU_NLEVELS; i++)
      if (!strcmp(want, level_names[i])) found = i;
    if (found < 0)
      fprintf(stderr,
              "seer: SEER_CPU=%s is not a level (generic, avx2, avx512, avx512bf16, amx); using "
              "%s\n",
              want, level_names[best_level]);
    else if (found > (int)best_level)
      fprintf(stderr,
              "seer: SEER_CPU=%s asks for more than this CPU and OS support (%s); using %s\n", want,
              level_names[best_level], level_names[best_level]);
    else
      active_level = (seer_cpu_level_id)found;
  }
  return table_for(active_level);
}

int64_t seer_cpu_gemv_prefetch = SEER_GEMV_PREFETCH_DEFAULT;

static void init_once(void) {
  const char *pf = getenv("SEER_GEMV_PREFETCH");
  if (pf && *pf) {
    char *end;
    long long v = strtoll(pf, &end, 10);
    if (*end || v < 0 || v > (1 << 20))
      fprintf(stderr, "seer: SEER_GEMV_PREFETCH=%s is not a byte count in [0, 1048576]; using %d\n",
              pf, SEER_GEMV_PREFETCH_DEFAULT);
    else
      seer_cpu_gemv_prefetch = v;
  }
  __atomic_store_n(&seer_cpu_active, choose(), __ATOMIC_RELEASE);
}

const seer_cpu_kernels *seer_cpu_kernels_init(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, init_once);
  return seer_cpu_active;
}

const char *seer_cpu_level(void) {
  seer_cpu();
  return level_names[active_level];
}

const char *seer_cpu_level_best(void) {
  seer_cpu();
  return level_names[best_level];
}
