/* dlib.h: a library found at run time and its entry points resolved by name into one table of
 * function pointers, the way seer reaches the NVIDIA driver (driver.c) and cuBLASLt (cublaslt.c)
 * without linking them. Each user lists its entry points once as an X-macro of rows
 * X(field, "symbol", return type, (params)); SEER_DLIB_FIELD makes the table's members from it. The
 * wording of failures stays with each user (what is missing and what to do differ); this file only
 * loads, resolves and keeps. */
#ifndef SEER_CUDA_DLIB_H
#define SEER_CUDA_DLIB_H

#include <pthread.h>
#include <stddef.h>

/* A table member from an X-macro row. */
#define SEER_DLIB_FIELD(field, sym, ret, params) ret(*field) params;
/* A seer_dlib_entry from an X-macro row; the table's type must be named SEER_DLIB_TABLE. */
#define SEER_DLIB_ENTRY(field, sym, ret, params) {sym, offsetof(SEER_DLIB_TABLE, field)},

typedef struct seer_dlib_entry {
  const char *name;
  size_t offset; /* of the member the entry point goes to */
} seer_dlib_entry;

/* One library kind: its entry points, and the first usable copy, kept for the process (launches and
 * handles may point into it). Define it statically with SEER_DLIB_INIT. */
typedef struct seer_dlib {
  const seer_dlib_entry *entries; /* n of them */
  size_t n;
  void *table;       /* the kept table (the user's static storage, table_size bytes) */
  size_t table_size; /* sizeof the table type */
  pthread_mutex_t lock;
  void *handle;       /* NULL until seer_dlib_keep */
  const char **names; /* entries' names, NULL-terminated (seer_dlib_names) */
} seer_dlib;
#define SEER_DLIB_INIT(entries, table)                                                             \
  {                                                                                                \
    entries, sizeof entries / sizeof entries[0], &table, sizeof table, PTHREAD_MUTEX_INITIALIZER,  \
        NULL, NULL                                                                                 \
  }

/* dlopen(path) with RTLD_NOW | RTLD_LOCAL, or NULL with dlerror()'s reason (or "not found") in
 * why. */
void *seer_dlib_open(const char *path, char *why, size_t why_n);
/* One entry point by name (a probe before the table: the version call), or NULL. */
void *seer_dlib_sym(void *handle, const char *name);
/* Fills every member of table (a table of the library's type) from handle: members whose entry
 * point is absent are NULL. Returns how many are absent and names the first in *first_missing. */
int seer_dlib_resolve(const seer_dlib *d, void *handle, void *table, const char **first_missing);
/* Keeps handle and table as the library's copy for the process when none is kept yet (the first
 * usable one stays); otherwise closes handle unless it is the kept one. Returns the kept table. */
const void *seer_dlib_keep(seer_dlib *d, void *handle, const void *table);
/* Closes a handle that failed a check, unless it is the kept one (dlopen of the same path returns
 * the same handle). NULL is ignored. */
void seer_dlib_discard(seer_dlib *d, void *handle);
/* The kept table, or NULL before any seer_dlib_keep. */
const void *seer_dlib_table(const seer_dlib *d);
/* The entry points' names in table order, NULL-terminated (tests, docs). */
const char *const *seer_dlib_names(seer_dlib *d);
/* The file the dynamic loader would load for library (a name searched like dlopen's, or a path),
 * resolved to its real path in out; 0, or -1 with one sentence in why. Loads it lazily and unloads
 * it again: what a sandbox binds to show a library. */
int seer_dlib_path(const char *library, char *out, size_t n, char *why, size_t why_n);

#endif
