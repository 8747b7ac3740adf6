/* sbx_limits_probe.c: holds memory in a way a sandbox's memory limit must count, for
 * sbx_limits_spec.lua. `sbx_limits_probe KIND MIB [SECONDS]`: KIND is shared (MAP_SHARED
 * anonymous), memfd (written, never mapped) or sysv (a System V segment, touched then detached). It
 * holds MIB MiB for SECONDS (default 2), then exits 0: a sandbox whose limit it escapes sees the
 * command succeed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3 && argc != 4) {
    fprintf(stderr, "usage: sbx_limits_probe shared|memfd|sysv MIB [SECONDS]\n");
    return 2;
  }
  size_t bytes = (size_t)atol(argv[2]) << 20;
  if (strcmp(argv[1], "shared") == 0) {
    char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return perror("mmap"), 1;
    memset(p, 1, bytes);
  } else if (strcmp(argv[1], "memfd") == 0) {
    int fd = memfd_create("hold", 0);
    if (fd < 0) return perror("memfd_create"), 1;
    static char chunk[1 << 20];
    memset(chunk, 1, sizeof chunk);
    for (size_t done = 0; done < bytes; done += sizeof chunk)
      if (write(fd, chunk, sizeof chunk) != (ssize_t)sizeof chunk) return perror("write"), 1;
  } else if (strcmp(argv[1], "sysv") == 0) {
    int id = shmget(IPC_PRIVATE, bytes, IPC_CREAT | 0600);
    if (id < 0) return perror("shmget"), 1;
    char *p = shmat(id, NULL, 0);
    if (p == (void *)-1) return perror("shmat"), 1;
    memset(p, 1, bytes);
    shmdt(p);
  } else {
    fprintf(stderr, "unknown kind '%s'\n", argv[1]);
    return 2;
  }
  sleep(argc == 4 ? (unsigned)atoi(argv[3]) : 2);
  return 0;
}
