/* Host state directories of sandboxes and sessions (/tmp/seer-sandbox-*, /tmp/seer-session-*):
 * each holds a lock file that its live owner keeps locked (flock), so that the next start after a
 * crash can tell dead owners' directories from live ones and remove them. Removal never follows a
 * symlink: the directories hold what a sandbox wrote. The lock is on the directory itself, so
 * nothing written inside it (a session's workspace is) can forge or remove it. */
#ifndef SEER_STATEDIR_H
#define SEER_STATEDIR_H

#include <stddef.h>

#include "seer/error.h"

/* A file every state directory holds, so that a sweep never touches directories made by other
 * programs (or older versions) that do not lock theirs. */
#define SEER_STATEDIR_MARKER ".seer-owner"

/* Creates base/<prefix>-XXXXXX (mode 0700), locked as its owner's: returns its path in out and an
 * fd (close-on-exec) of the directory that holds the lock (flock) until closed. The directory is
 * made, marked and locked under a hidden name first, so a sweep never sees it unlocked. */
int seer_statedir_create(const char *base, const char *prefix, char *out, size_t out_size,
                         int *fd_out, seer_error *err);

/* Removes path and everything under it, through directory fds: a symlink is removed, never
 * followed, and other mounts are not entered. A missing path is not an error. */
int seer_statedir_remove(const char *path, seer_error *err);

/* In base, removes every directory named <prefix>-XXXXXX (for each of the NULL-terminated
 * prefixes) that this user owns (root: any), that holds the marker, and that nobody holds locked:
 * its owner is dead. Sets *removed to how many went. */
int seer_statedir_sweep(const char *base, const char *const *prefixes, int *removed,
                        seer_error *err);

#endif
