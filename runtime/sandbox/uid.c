/* uid.c: owns choosing the host uid and gid a root-started sandbox runs as. They must belong to
 * nobody else: not to an account, and not to a subordinate id range of /etc/subuid or /etc/subgid,
 * which other users' containers map (a collision would let a sandbox and such a container own each
 * other's files and signal each other's processes). The id is SEER_SANDBOX_ID_BASE plus the
 * helper's pid, which no other live sandbox has; it moves up by SEER_SANDBOX_ID_STRIDE (past every
 * pid) while it collides. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seer/sandbox.h"

/* Does `id` fall in a range of the subordinate-id file `path` ("owner:start:count" lines)? */
static int in_subid_ranges(const char *path, unsigned long id) {
  FILE *f = fopen(path, "re");
  if (!f) return 0; /* no file: no ranges */
  char line[512];
  int hit = 0;
  while (!hit && fgets(line, sizeof line, f)) {
    char *start = strchr(line, ':');
    if (!start) continue;
    char *end;
    errno = 0;
    unsigned long first = strtoul(start + 1, &end, 10);
    if (errno || *end != ':') continue;
    unsigned long count = strtoul(end + 1, &end, 10);
    if (errno) continue;
    hit = id >= first && id - first < count;
  }
  fclose(f);
  return hit;
}

int seer_sandbox_host_id(long pid, unsigned long *id, seer_error *err) {
  for (unsigned long candidate = SEER_SANDBOX_ID_BASE + (unsigned long)pid;
       candidate < 0xfffffffeUL; candidate += SEER_SANDBOX_ID_STRIDE) {
    if (in_subid_ranges("/etc/subuid", candidate) || in_subid_ranges("/etc/subgid", candidate))
      continue;
    if (getpwuid((uid_t)candidate) || getgrgid((gid_t)candidate)) continue;
    *id = candidate;
    return SEER_OK;
  }
  return seer_errorf(err, SEER_ESTATE,
                     "sandbox: every candidate uid for this sandbox is taken by an account or a "
                     "/etc/subuid or /etc/subgid range");
}
