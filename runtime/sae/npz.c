/* npz.c: owns reading .npz archives (np.savez: a zip of .npy members) with libzip. The archive is
 * a download: members must be plain .npy files, stored or deflated, unencrypted, uniquely named;
 * their declared sizes are summed against the caller's memory bound before anything is inflated,
 * and a member that inflates to more or less than it declared (or fails its CRC) is refused. */
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "seer/npy.h"

#define NPZ_MAX_MEMBERS 4096

static int zip_fail(seer_error *err, const char *path, const char *what, zip_error_t *ze) {
  return seer_errorf(err, SEER_EFORMAT, "%s: %s: %s; the .npz is corrupt or not a NumPy archive",
                     path, what, zip_error_strerror(ze));
}

static int member_name_ok(const char *n) {
  size_t len = strlen(n);
  if (len <= 4 || len > 255 || strcmp(n + len - 4, ".npy") != 0) return 0;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)n[i] < 0x20 || n[i] == 0x7f) return 0;
  return 1;
}

/* Reads exactly size bytes of member i into a fresh buffer, or fails. */
static int read_member(zip_t *za, zip_uint64_t i, const char *path, const char *name,
                       zip_uint64_t size, unsigned char **out, seer_error *err) {
  *out = NULL;
  unsigned char *buf = malloc(size ? (size_t)size : 1);
  if (!buf) return seer_errorf(err, SEER_ENOMEM, "%s: out of memory for member %s", path, name);
  zip_file_t *zf = zip_fopen_index(za, i, 0);
  if (!zf) {
    free(buf);
    return zip_fail(err, path, name, zip_get_error(za));
  }
  zip_uint64_t got = 0;
  int rc = 0;
  while (got < size) {
    zip_int64_t n = zip_fread(zf, buf + got, size - got);
    if (n < 0) {
      rc = zip_fail(err, path, name, zip_file_get_error(zf));
      break;
    }
    if (n == 0) {
      rc = seer_errorf(err, SEER_EFORMAT, "%s: member %s ends before its declared %llu bytes", path,
                       name, (unsigned long long)size);
      break;
    }
    got += (zip_uint64_t)n;
  }
  if (!rc) {
    unsigned char extra;
    zip_int64_t n = zip_fread(zf, &extra, 1);
    if (n < 0)
      rc = zip_fail(err, path, name, zip_file_get_error(zf));
    else if (n > 0)
      rc = seer_errorf(err, SEER_EFORMAT, "%s: member %s holds more than its declared %llu bytes",
                       path, name, (unsigned long long)size);
  }
  zip_fclose(zf);
  if (rc) {
    free(buf);
    return rc;
  }
  *out = buf;
  return 0;
}

int seer_npz_load(const char *path, uint64_t max_bytes, seer_npz_fn fn, void *ud, seer_error *err) {
  int zerr = 0;
  zip_t *za = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
  if (!za) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, zerr);
    int rc = zerr == ZIP_ER_NOENT || zerr == ZIP_ER_OPEN || zerr == ZIP_ER_READ
                 ? seer_errorf(err, SEER_EIO, "%s: cannot open: %s", path, zip_error_strerror(&ze))
                 : zip_fail(err, path, "not a readable zip archive", &ze);
    zip_error_fini(&ze);
    return rc;
  }
  int rc = 0;
  zip_int64_t count = zip_get_num_entries(za, 0);
  if (count <= 0 || count > NPZ_MAX_MEMBERS) {
    rc = seer_errorf(err, SEER_EFORMAT, "%s: an .npz needs 1 to %d members, this one has %lld",
                     path, NPZ_MAX_MEMBERS, (long long)count);
    goto done;
  }
  /* First pass: names, methods and the memory bound, before anything is inflated. */
  uint64_t total = 0;
  for (zip_int64_t i = 0; i < count && !rc; i++) {
    zip_stat_t st;
    if (zip_stat_index(za, (zip_uint64_t)i, 0, &st) != 0) {
      rc = zip_fail(err, path, "unreadable directory entry", zip_get_error(za));
      break;
    }
    const zip_uint64_t need = ZIP_STAT_NAME | ZIP_STAT_SIZE | ZIP_STAT_COMP_METHOD;
    if ((st.valid & need) != need || !member_name_ok(st.name)) {
      rc = seer_errorf(err, SEER_EFORMAT,
                       "%s: member %lld is not a .npy file with a printable name; an .npz holds "
                       "only NAME.npy members",
                       path, (long long)i);
    } else if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) {
      rc = seer_errorf(err, SEER_ENOTSUP, "%s: member %s is encrypted", path, st.name);
    } else if (st.comp_method != ZIP_CM_STORE && st.comp_method != ZIP_CM_DEFLATE) {
      rc = seer_errorf(err, SEER_ENOTSUP,
                       "%s: member %s uses compression method %d (stored and deflated are read)",
                       path, st.name, (int)st.comp_method);
    } else if (st.size > max_bytes || total > max_bytes - st.size) {
      rc = seer_errorf(err, SEER_EFORMAT,
                       "%s: the members declare more than %llu bytes in all; raise the limit if "
                       "the archive is genuine",
                       path, (unsigned long long)max_bytes);
    } else {
      total += st.size;
      for (zip_int64_t j = 0; j < i && !rc; j++)
        if (strcmp(zip_get_name(za, (zip_uint64_t)j, 0), st.name) == 0)
          rc = seer_errorf(err, SEER_EFORMAT, "%s: member %s appears twice", path, st.name);
    }
  }
  for (zip_int64_t i = 0; i < count && !rc; i++) {
    zip_stat_t st;
    if (zip_stat_index(za, (zip_uint64_t)i, 0, &st) != 0) {
      rc = zip_fail(err, path, "unreadable directory entry", zip_get_error(za));
      break;
    }
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)strlen(st.name) - 4, st.name);
    unsigned char *buf;
    if ((rc = read_member(za, (zip_uint64_t)i, path, st.name, st.size, &buf, err))) break;
    char label[1024];
    snprintf(label, sizeof label, "%s: %s", path, st.name);
    seer_tensor *t = NULL;
    rc = seer_npy_parse(buf, (size_t)st.size, label, &t, err);
    free(buf);
    if (!rc) rc = fn(ud, name, t, err);
  }
done:
  zip_discard(za);
  return rc;
}
