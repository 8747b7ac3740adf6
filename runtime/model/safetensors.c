/* safetensors.c: owns the safetensors format: strict header validation, opening single files and
 * shard sets, tensor views over the mapping, and the streaming writer. */
#include "seer/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "weights_mem.h"

typedef struct st_tensor {
  seer_st_info info;
  int file;          /* index into files */
  size_t data_begin; /* absolute file offset */
} st_tensor;

typedef struct st_file {
  char *path;
  seer_storage *storage; /* wraps the whole mapping; munmap on last release */
  size_t size;
} st_file;

struct seer_safetensors {
  st_file *files;
  size_t nfiles;
  st_tensor *tensors;
  size_t ntensors, cap;
  size_t *by_name; /* tensor indices sorted by name, then position: lookups in O(log n) */
};

static void unmap_release(void *ctx) {
  seer_weights_mem *m = ctx;
  seer_weights_release(m);
  free(m);
}

static const char *st_dtype_name(seer_dtype dt) {
  switch (dt) {
  case SEER_DTYPE_F32: return "F32";
  case SEER_DTYPE_BF16: return "BF16";
  case SEER_DTYPE_F16: return "F16";
  case SEER_DTYPE_I32: return "I32";
  case SEER_DTYPE_I64: return "I64";
  }
  return "?";
}

static int cmp_begin(const void *a, const void *b) {
  const st_tensor *x = *(st_tensor *const *)a, *y = *(st_tensor *const *)b;
  return x->data_begin < y->data_begin ? -1 : x->data_begin > y->data_begin;
}

static int cmp_name(const void *a, const void *b, void *ctx) {
  const st_tensor *t = ctx;
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  int c = strcmp(t[x].info.name, t[y].info.name);
  return c ? c : (x > y) - (x < y);
}

/* A hostile header or index can name a million tensors; finding each by a linear scan would be
 * quadratic, so lookups go through a sorted index built once the set is complete. */
static int build_name_index(seer_safetensors *st, seer_error *err) {
  free(st->by_name);
  st->by_name = malloc((st->ntensors ? st->ntensors : 1) * sizeof *st->by_name);
  if (!st->by_name) return seer_errorf(err, SEER_ENOMEM, "safetensors: out of memory");
  for (size_t i = 0; i < st->ntensors; i++)
    st->by_name[i] = i;
  qsort_r(st->by_name, st->ntensors, sizeof *st->by_name, cmp_name, st->tensors);
  return 0;
}

static int push_tensor(seer_safetensors *st, st_tensor *t, seer_error *err) {
  if (st->ntensors == st->cap) {
    size_t nc = st->cap ? st->cap * 2 : 64;
    st_tensor *nt = realloc(st->tensors, nc * sizeof *nt);
    if (!nt) return seer_errorf(err, SEER_ENOMEM, "safetensors: out of memory");
    st->tensors = nt;
    st->cap = nc;
  }
  st->tensors[st->ntensors++] = *t;
  return 0;
}

/* Parses and validates one file's header, appending its tensors. */
static int parse_header(seer_safetensors *st, int fidx, const unsigned char *base, size_t size,
                        seer_error *err) {
  const char *path = st->files[fidx].path;
  if (size < 8)
    return seer_errorf(err, SEER_EFORMAT,
                       "%s: file is truncated (%zu bytes, smaller than the 8-byte header length)",
                       path, size);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--)
    hlen = (hlen << 8) | base[i];
  if (hlen > SEER_ST_MAX_HEADER)
    return seer_errorf(err, SEER_EFORMAT, "%s: header of %llu bytes exceeds the 100 MB limit", path,
                       (unsigned long long)hlen);
  if (8 + hlen > size)
    return seer_errorf(err, SEER_EFORMAT,
                       "%s: file is truncated: header claims %llu bytes but the file has %zu", path,
                       (unsigned long long)hlen, size);
  json_error_t jerr;
  json_t *root = json_loadb((const char *)base + 8, (size_t)hlen, 0, &jerr);
  if (!root)
    return seer_errorf(err, SEER_EFORMAT, "%s: header is not valid JSON (line %d column %d: %s)",
                       path, jerr.line, jerr.column, jerr.text);
  if (!json_is_object(root)) {
    json_decref(root);
    return seer_errorf(err, SEER_EFORMAT, "%s: header is not a JSON object", path);
  }
  size_t data_start = 8 + (size_t)hlen, data_size = size - data_start;
  size_t first = st->ntensors;
  const char *key;
  json_t *v;
  int rc = 0;
  json_object_foreach(root, key, v) {
    if (strcmp(key, "__metadata__") == 0) continue;
    st_tensor t;
    memset(&t, 0, sizeof t);
    t.file = fidx;
    json_t *dt = json_object_get(v, "dtype"), *shape = json_object_get(v, "shape");
    json_t *offs = json_object_get(v, "data_offsets");
    if (!json_is_object(v) || !json_is_string(dt) || !json_is_array(shape) ||
        !json_is_array(offs) || json_array_size(offs) != 2 ||
        !json_is_integer(json_array_get(offs, 0)) || !json_is_integer(json_array_get(offs, 1))) {
      rc = seer_errorf(err, SEER_EFORMAT,
                       "%s: tensor '%s': entry needs dtype, shape and data_offsets [begin, end]",
                       path, key);
      break;
    }
    if (seer_dtype_parse(json_string_value(dt), &t.info.dtype) != 0 ||
        strcmp(json_string_value(dt), st_dtype_name(t.info.dtype)) != 0) {
      /* Only the safetensors spellings (F32, BF16, ...) are valid in a file. */
      rc = seer_errorf(err, SEER_EFORMAT,
                       "%s: tensor '%s': unknown or unsupported dtype '%s' (supported: F32, BF16, "
                       "F16, I32, I64)",
                       path, key, json_string_value(dt));
      break;
    }
    size_t nd = json_array_size(shape);
    if (nd > SEER_TENSOR_MAX_DIMS) {
      rc = seer_errorf(err, SEER_EFORMAT, "%s: tensor '%s': %zu dims, at most %d are supported",
                       path, key, nd, SEER_TENSOR_MAX_DIMS);
      break;
    }
    /* Overflow-checked: a shape whose product wraps (2^32 x 2^32 is 0 in 64 bits) must not pass as
     * a small tensor. Zero dims are left out of the product of the others, which also bounds the
     * strides of an empty tensor. */
    uint64_t numel = 1, nonzero = 1;
    int bad = 0;
    for (size_t i = 0; i < nd; i++) {
      json_t *d = json_array_get(shape, i);
      if (!json_is_integer(d) || json_integer_value(d) < 0 ||
          json_integer_value(d) > (json_int_t)1 << 40) {
        bad = 1;
        break;
      }
      t.info.shape[i] = json_integer_value(d);
      numel *= (uint64_t)t.info.shape[i];
      if (t.info.shape[i] &&
          (__builtin_mul_overflow(nonzero, (uint64_t)t.info.shape[i], &nonzero) ||
           nonzero > (uint64_t)1 << 48))
        bad = 1;
    }
    if (bad) {
      rc = seer_errorf(err, SEER_EFORMAT, "%s: tensor '%s': invalid shape", path, key);
      break;
    }
    t.info.ndim = (int)nd;
    json_int_t b = json_integer_value(json_array_get(offs, 0));
    json_int_t e = json_integer_value(json_array_get(offs, 1));
    if (b < 0 || e < b) {
      rc = seer_errorf(err, SEER_EFORMAT, "%s: tensor '%s': invalid data_offsets [%lld, %lld]",
                       path, key, (long long)b, (long long)e);
      break;
    }
    if ((uint64_t)e > (uint64_t)data_size) {
      rc = seer_errorf(err, SEER_EFORMAT,
                       "%s: tensor '%s': data_offsets [%lld, %lld] lie outside the data section "
                       "(%zu bytes): the file is truncated or the offsets are corrupt",
                       path, key, (long long)b, (long long)e, data_size);
      break;
    }
    uint64_t want = numel * seer_dtype_size(t.info.dtype);
    if ((uint64_t)(e - b) != want) {
      rc = seer_errorf(err, SEER_EFORMAT,
                       "%s: tensor '%s': byte size %lld does not match dtype %s x shape (%llu "
                       "bytes)",
                       path, key, (long long)(e - b), json_string_value(dt),
                       (unsigned long long)want);
      break;
    }
    t.info.nbytes = (size_t)want;
    t.data_begin = data_start + (size_t)b;
    t.info.name = strdup(key);
    t.info.file = path;
    if (!t.info.name || (rc = push_tensor(st, &t, err)) != 0) {
      free((char *)t.info.name);
      if (!rc) rc = seer_errorf(err, SEER_ENOMEM, "safetensors: out of memory");
      break;
    }
  }
  json_decref(root);
  if (rc) return rc;
  /* Overlap check over this file's tensors, sorted by start. */
  size_t n = st->ntensors - first;
  st_tensor **byoff = malloc((n ? n : 1) * sizeof *byoff);
  if (!byoff) return seer_errorf(err, SEER_ENOMEM, "safetensors: out of memory");
  for (size_t i = 0; i < n; i++)
    byoff[i] = &st->tensors[first + i];
  qsort(byoff, n, sizeof *byoff, cmp_begin);
  for (size_t i = 1; i < n; i++) {
    const st_tensor *p = byoff[i - 1], *q = byoff[i];
    if (q->data_begin < p->data_begin + p->info.nbytes) {
      rc = seer_errorf(err, SEER_EFORMAT, "%s: tensor '%s' overlaps tensor '%s'", path,
                       q->info.name, p->info.name);
      break;
    }
  }
  free(byoff);
  return rc;
}

/* Opens one file of the set; `policy` says whether its bytes are mapped or copied (weights_mem.c).
 */
static int add_file(seer_safetensors *st, const char *path, seer_weights_policy policy,
                    seer_error *err) {
  st_file *nf = realloc(st->files, (st->nfiles + 1) * sizeof *nf);
  if (!nf) return seer_errorf(err, SEER_ENOMEM, "safetensors: out of memory");
  st->files = nf;
  st_file *f = &st->files[st->nfiles];
  memset(f, 0, sizeof *f);
  f->path = strdup(path);
  if (!f->path) return seer_errorf(err, SEER_ENOMEM, "safetensors: out of memory");
  st->nfiles++;
  /* O_NONBLOCK: a FIFO planted as a shard must fail below, not block the open. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return seer_error_errno(err, SEER_EIO, errno, "%s: cannot open", path);
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    close(fd);
    return seer_error_errno(err, SEER_EIO, errno, "%s: cannot stat", path);
  }
  if (!S_ISREG(sb.st_mode)) {
    close(fd);
    return seer_errorf(err, SEER_EFORMAT, "%s: not a regular file", path);
  }
  f->size = (size_t)sb.st_size;
  seer_weights_mem *m = calloc(1, sizeof *m);
  if (!m) {
    close(fd);
    return seer_errorf(err, SEER_ENOMEM, "safetensors: out of memory");
  }
  int rc = seer_weights_place(fd, f->size, path, policy, m, err);
  close(fd);
  if (rc) {
    free(m);
    return rc;
  }
  f->storage = seer_storage_wrap(m->base, f->size, SEER_DEVICE_CPU, unmap_release, m, err);
  if (!f->storage) {
    unmap_release(m);
    return SEER_ENOMEM;
  }
  return parse_header(st, (int)st->nfiles - 1, m->base, f->size, err);
}

static int open_one(const char *path, seer_weights_policy policy, seer_safetensors **out,
                    seer_error *err) {
  *out = NULL;
  seer_safetensors *st = calloc(1, sizeof *st);
  if (!st) return seer_errorf(err, SEER_ENOMEM, "safetensors: out of memory");
  int rc = add_file(st, path, policy, err);
  if (!rc) rc = build_name_index(st, err);
  if (rc) {
    seer_st_close(st);
    return rc;
  }
  *out = st;
  return 0;
}

/* Single files (tensor.load, adapters) are mapped: only a model's weights are worth a copy. */
int seer_st_open(const char *path, seer_safetensors **out, seer_error *err) {
  return open_one(path, SEER_WEIGHTS_MAP, out, err);
}

static char *join(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", dir, name);
  return p;
}

int seer_st_open_dir(const char *dir, seer_safetensors **out, seer_error *err) {
  *out = NULL;
  seer_weights_policy policy;
  int prc = seer_weights_policy_get(&policy, err);
  if (prc) return prc;
  return seer_st_open_dir_placed(dir, policy, out, err);
}

int seer_st_open_dir_placed(const char *dir, seer_weights_policy policy, seer_safetensors **out,
                            seer_error *err) {
  *out = NULL;
  char *index = join(dir, "model.safetensors.index.json");
  if (!index) return seer_errorf(err, SEER_ENOMEM, "safetensors: out of memory");
  if (access(index, F_OK) != 0) {
    free(index);
    char *single = join(dir, "model.safetensors");
    if (!single) return seer_errorf(err, SEER_ENOMEM, "safetensors: out of memory");
    if (access(single, F_OK) != 0) {
      free(single);
      return seer_errorf(err, SEER_EIO,
                         "%s: no model.safetensors or model.safetensors.index.json found", dir);
    }
    int rc = open_one(single, policy, out, err);
    free(single);
    return rc;
  }
  json_error_t jerr;
  json_t *root = json_load_file(index, 0, &jerr);
  if (!root) {
    int rc = seer_errorf(err, SEER_EFORMAT, "%s: invalid JSON (line %d column %d: %s)", index,
                         jerr.line, jerr.column, jerr.text);
    free(index);
    return rc;
  }
  json_t *wm = json_object_get(root, "weight_map");
  int rc = 0;
  seer_safetensors *st = calloc(1, sizeof *st);
  if (!st)
    rc = seer_errorf(err, SEER_ENOMEM, "safetensors: out of memory");
  else if (!json_is_object(wm))
    rc = seer_errorf(err, SEER_EFORMAT, "%s: no \"weight_map\" object", index);
  /* Open each distinct shard once, in the order the map first names it. */
  const char *key;
  json_t *v;
  if (!rc) {
    json_object_foreach(wm, key, v) {
      if (!json_is_string(v) || strchr(json_string_value(v), '/')) {
        rc = seer_errorf(err, SEER_EFORMAT, "%s: weight_map entry '%s' is not a shard file name",
                         index, key);
        break;
      }
      char *p = join(dir, json_string_value(v));
      int seen = 0;
      for (size_t i = 0; p && i < st->nfiles; i++)
        seen |= strcmp(st->files[i].path, p) == 0;
      if (!p)
        rc = seer_errorf(err, SEER_ENOMEM, "safetensors: out of memory");
      else if (!seen)
        rc = add_file(st, p, policy, err);
      free(p);
      if (rc) break;
    }
  }
  if (!rc) rc = build_name_index(st, err);
  /* Every name in the map must be where the map says. */
  if (!rc) {
    json_object_foreach(wm, key, v) {
      const seer_st_info *info = seer_st_find(st, key);
      char *p = join(dir, json_string_value(v));
      if (!info)
        rc = seer_errorf(err, SEER_EFORMAT, "%s: tensor '%s' is missing from %s", index, key,
                         json_string_value(v));
      else if (p && strcmp(info->file, p) != 0)
        rc = seer_errorf(err, SEER_EFORMAT, "%s: tensor '%s' is in %s, not %s as the index says",
                         index, key, info->file, json_string_value(v));
      free(p);
      if (rc) break;
    }
  }
  json_decref(root);
  free(index);
  if (rc) {
    seer_st_close(st);
    return rc;
  }
  *out = st;
  return 0;
}

void seer_st_close(seer_safetensors *st) {
  if (!st) return;
  for (size_t i = 0; i < st->ntensors; i++)
    free((char *)st->tensors[i].info.name);
  for (size_t i = 0; i < st->nfiles; i++) {
    seer_storage_release(st->files[i].storage);
    free(st->files[i].path);
  }
  free(st->tensors);
  free(st->by_name);
  free(st->files);
  free(st);
}

size_t seer_st_count(const seer_safetensors *st) { return st->ntensors; }

const seer_st_info *seer_st_info_at(const seer_safetensors *st, size_t i) {
  return i < st->ntensors ? &st->tensors[i].info : NULL;
}

const seer_st_info *seer_st_find(const seer_safetensors *st, const char *name) {
  /* The first tensor of that name in file order: the leftmost match in the index. */
  size_t lo = 0, hi = st->ntensors;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (strcmp(st->tensors[st->by_name[mid]].info.name, name) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < st->ntensors && strcmp(st->tensors[st->by_name[lo]].info.name, name) == 0)
    return &st->tensors[st->by_name[lo]].info;
  return NULL;
}

size_t seer_st_file_bytes(const seer_safetensors *st) {
  size_t n = 0;
  for (size_t i = 0; i < st->nfiles; i++)
    n += st->files[i].size;
  return n;
}

seer_tensor *seer_st_get(seer_safetensors *st, const char *name, seer_error *err) {
  const seer_st_info *info = seer_st_find(st, name);
  if (!info) {
    seer_errorf(err, SEER_EINVAL, "safetensors: no tensor named '%s'", name);
    return NULL;
  }
  const st_tensor *t = (const st_tensor *)info; /* info is the first member */
  seer_storage *s = st->files[t->file].storage;
  size_t es = seer_dtype_size(info->dtype);
  if (t->data_begin % es == 0)
    return seer_tensor_from_storage(s, t->data_begin, info->dtype, info->ndim, info->shape, NULL,
                                    err);
  /* Misaligned data (odd header padding): copy, since typed loads of it would be undefined. */
  seer_tensor *c = seer_tensor_new(info->dtype, info->ndim, info->shape, err);
  if (c) memcpy(seer_tensor_data(c), (char *)seer_storage_data(s) + t->data_begin, info->nbytes);
  return c;
}

/* ---- writer ---- */

int seer_st_write(const char *path, size_t n, const seer_st_entry *entries, seer_st_fill_fn fill,
                  void *ud, seer_error *err) {
  json_t *root = json_object();
  json_t *meta = json_pack("{s:s}", "format", "pt");
  if (!root || !meta) return seer_errorf(err, SEER_ENOMEM, "safetensors: out of memory");
  json_object_set_new(root, "__metadata__", meta);
  size_t off = 0;
  for (size_t i = 0; i < n; i++) {
    const seer_st_entry *e = &entries[i];
    json_t *shape = json_array();
    size_t numel = 1;
    for (int d = 0; d < e->ndim; d++) {
      json_array_append_new(shape, json_integer(e->shape[d]));
      numel *= (size_t)e->shape[d];
    }
    size_t nb = numel * seer_dtype_size(e->dtype);
    json_object_set_new(root, e->name,
                        json_pack("{s:s,s:o,s:[I,I]}", "dtype", st_dtype_name(e->dtype), "shape",
                                  shape, "data_offsets", (json_int_t)off, (json_int_t)(off + nb)));
    off += nb;
  }
  /* Keys keep insertion order so data_offsets ascend through the file. */
  char *hdr = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(root);
  if (!hdr) return seer_errorf(err, SEER_ENOMEM, "safetensors: out of memory");
  size_t hlen = strlen(hdr), padded = (hlen + 7) & ~(size_t)7;
  FILE *f = fopen(path, "wb");
  if (!f) {
    free(hdr);
    return seer_error_errno(err, SEER_EIO, errno, "%s: cannot create", path);
  }
  unsigned char lenb[8];
  for (int i = 0; i < 8; i++)
    lenb[i] = (unsigned char)((uint64_t)padded >> (8 * i));
  int rc = 0;
  if (fwrite(lenb, 1, 8, f) != 8 || fwrite(hdr, 1, hlen, f) != hlen) rc = SEER_EIO;
  for (size_t i = hlen; !rc && i < padded; i++)
    if (fputc(' ', f) == EOF) rc = SEER_EIO;
  free(hdr);
  const size_t chunk = 16u << 20;
  char *buf = malloc(chunk);
  if (!buf && !rc) rc = seer_errorf(err, SEER_ENOMEM, "safetensors: out of memory");
  for (size_t i = 0; !rc && i < n; i++) {
    const seer_st_entry *e = &entries[i];
    size_t numel = 1;
    for (int d = 0; d < e->ndim; d++)
      numel *= (size_t)e->shape[d];
    size_t nb = numel * seer_dtype_size(e->dtype);
    for (size_t o = 0; !rc && o < nb; o += chunk) {
      size_t len = nb - o < chunk ? nb - o : chunk;
      rc = fill(ud, i, o, buf, len, err);
      if (!rc && fwrite(buf, 1, len, f) != len) rc = SEER_EIO;
    }
  }
  free(buf);
  if (fclose(f) != 0 && !rc) rc = SEER_EIO;
  if (rc == SEER_EIO) seer_error_errno(err, SEER_EIO, errno, "%s: write failed", path);
  if (rc) unlink(path);
  return rc;
}

typedef struct {
  const seer_tensor *const *tensors;
} save_ctx;

static int save_fill(void *ud, size_t i, size_t offset, void *dst, size_t nbytes, seer_error *err) {
  const seer_tensor *t = ((save_ctx *)ud)->tensors[i];
  size_t es = seer_dtype_size(t->dtype);
  if (seer_tensor_is_contiguous(t)) {
    memcpy(dst, (const char *)seer_tensor_data(t) + offset, nbytes);
    return 0;
  }
  seer_tensor *c = seer_tensor_clone(t, err);
  if (!c) return SEER_ENOMEM;
  memcpy(dst, (const char *)seer_tensor_data(c) + offset, nbytes);
  seer_tensor_release(c);
  (void)es;
  return 0;
}

int seer_st_save(const char *path, size_t n, const char *const *names,
                 const seer_tensor *const *tensors, seer_error *err) {
  seer_st_entry *e = calloc(n ? n : 1, sizeof *e);
  if (!e) return seer_errorf(err, SEER_ENOMEM, "safetensors: out of memory");
  for (size_t i = 0; i < n; i++) {
    if (seer_tensor_device(tensors[i]) != SEER_DEVICE_CPU) {
      free(e);
      return seer_errorf(err, SEER_ENOTSUP, "safetensors: tensor '%s' is not on the CPU", names[i]);
    }
    e[i].name = names[i];
    e[i].dtype = tensors[i]->dtype;
    e[i].ndim = tensors[i]->ndim;
    for (int d = 0; d < e[i].ndim; d++)
      e[i].shape[d] = tensors[i]->shape[d];
  }
  save_ctx ctx = {tensors};
  int rc = seer_st_write(path, n, e, save_fill, &ctx, err);
  free(e);
  return rc;
}
