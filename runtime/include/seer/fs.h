/* Filesystem helpers: whole-file read, atomic write, mkdir -p, sorted listing, tree removal. */
#ifndef SEER_FS_H
#define SEER_FS_H

#include <stddef.h>

#include "seer/buf.h"
#include "seer/error.h"

enum { SEER_FS_NONE = 0, SEER_FS_FILE = 1, SEER_FS_DIR = 2, SEER_FS_OTHER = 3 };

int seer_fs_read(const char *path, seer_buf *out, seer_error *err);
/* Writes to a temporary file in the same directory, fsyncs it and renames it over path, so readers
 * see either the old or the new content, never a torn write. */
int seer_fs_write_atomic(const char *path, const void *data, size_t len, seer_error *err);
/* The same with the file's mode given (e.g. 0600 for a secret): the temporary file is created
 * 0600 and only ever gets `mode`, so the contents are never readable more widely on the way.
 * mode < 0: 0666 less the umask, as seer_fs_write_atomic. */
int seer_fs_write_atomic_mode(const char *path, const void *data, size_t len, int mode,
                              seer_error *err);
int seer_fs_mkdir_p(const char *path, int mode, seer_error *err);
/* SEER_FS_NONE/FILE/DIR/OTHER, following symlinks. */
int seer_fs_kind(const char *path);
/* Sorted entry names without "." and ".."; free with seer_fs_list_free. */
int seer_fs_list(const char *path, char ***names, size_t *count, seer_error *err);
void seer_fs_list_free(char **names, size_t count);
/* Removes a file or a directory tree without following symlinks out of it. Missing is not an error.
 */
int seer_fs_remove_tree(const char *path, seer_error *err);
/* Creates a fresh private directory under $TMPDIR (or /tmp) and writes its path to out. */
int seer_fs_tmpdir(const char *prefix, char *out, size_t out_size, seer_error *err);

#endif
