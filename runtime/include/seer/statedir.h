/* Host state directories of sandboxes and sessions (/tmp/seer-sandbox-*, /tmp/seer-session-*):
 * each holds a lock file that its live owner keeps locked (flock), so that the next start after a
 * crash can tell dead owners' directories from live ones and remove them. Removal never follows a
 * symlink: the directories hold what a sandbox wrote. */
#ifndef SEER_STATEDIR_H
#define SEER_STATEDIR_H

#include "seer/error.h"

/* Name of the lock file inside a state directory. */
#define SEER_STATEDIR_LOCK ".owner.lock"

/* Locks dir as its owner's: returns an fd (close-on-exec) that holds the lock until closed. The
 * lock file is locked before it gets its name, so a sweep never sees it unlocked. */
int seer_statedir_lock(const char *dir, int *fd_out, seer_error *err);

/* Removes path and everything under it, through directory fds: a symlink is removed, never
 * followed, and other mounts are not entered. A missing path is not an error. */
int seer_statedir_remove(const char *path, seer_error *err);

/* In base, removes every directory named <prefix>-XXXXXX (for each of the NULL-terminated
 * prefixes) that this user owns and whose lock file is not locked: its owner is dead. Directories
 * without a lock file (still being created) are left alone. Sets *removed to how many went. */
int seer_statedir_sweep(const char *base, const char *const *prefixes, int *removed,
                        seer_error *err);

#endif
