/* dlib.c: loads a library at run time and resolves its entry points into one table (dlib.h), for
 * the driver and cuBLASLt loaders alike. */
#include "dlib.h"

#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *seer_dlib_open(const char *path, char *why, size_t why_n) {
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    snprintf(why, why_n, "%s", e ? e : "not found");
  }
  return h;
}

void *seer_dlib_sym(void *handle, const char *name) { return dlsym(handle, name); }

int seer_dlib_resolve(const seer_dlib *d, void *handle, void *table, const char **first_missing) {
  int missing = 0;
  *first_missing = NULL;
  memset(table, 0, d->table_size);
  for (size_t i = 0; i < d->n; i++) {
    void *fn = dlsym(handle, d->entries[i].name);
    if (!fn && !missing++) *first_missing = d->entries[i].name;
    memcpy((char *)table + d->entries[i].offset, &fn, sizeof fn);
  }
  return missing;
}

const void *seer_dlib_keep(seer_dlib *d, void *handle, const void *table) {
  if (!d->handle) {
    memcpy(d->table, table, d->table_size);
    d->handle = handle;
  } else if (handle != d->handle) {
    dlclose(handle);
  }
  return d->table;
}

void seer_dlib_discard(seer_dlib *d, void *handle) {
  if (handle && handle != d->handle) dlclose(handle);
}

const void *seer_dlib_table(const seer_dlib *d) { return d->handle ? d->table : NULL; }

const char *const *seer_dlib_names(seer_dlib *d) {
  pthread_mutex_lock(&d->lock);
  if (!d->names) {
    const char **names = calloc(d->n + 1, sizeof *names);
    for (size_t i = 0; names && i < d->n; i++)
      names[i] = d->entries[i].name;
    d->names = names; /* kept for the process, like the table */
  }
  pthread_mutex_unlock(&d->lock);
  return d->names;
}

int seer_dlib_path(const char *library, char *out, size_t n, char *why, size_t why_n) {
  out[0] = '\0';
  void *h = dlopen(library, RTLD_LAZY | RTLD_LOCAL);
  struct link_map *lm = NULL;
  char real[PATH_MAX];
  int rc = -1;
  if (!h) {
    const char *e = dlerror();
    snprintf(why, why_n, "%s could not be loaded (%s)", library, e ? e : "not found");
  } else if (dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0 || !lm || !lm->l_name || !lm->l_name[0]) {
    snprintf(why, why_n, "the dynamic loader does not say where it found %s", library);
  } else if (!realpath(lm->l_name, real) || strlen(real) >= n) {
    snprintf(why, why_n, "%s was loaded from '%s', which does not resolve to a file", library,
             lm->l_name);
  } else {
    memcpy(out, real, strlen(real) + 1);
    rc = 0;
  }
  if (h) dlclose(h);
  return rc;
}
