/* sbx_limits_probe.c: holds memory in a way a sandbox's memory limit must count, for
 * sbx_limits_spec.lua. `sbx_limits_probe KIND MIB [SECONDS]`: KIND is shared (MAP_SHARED
 * anonymous), memfd (written, never mapped) or sysv (a System V segment, touched then detached). It
 * holds MIB MiB for SECONDS (default 2), then exits 0: a sandbox whose limit it escapes sees the
 * command succeed. holdfd and passfd hand an exec's output to another process (see below). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* holdfd SOCK [SECONDS]: listen on SOCK, take the descriptor a passfd sends, keep it SECONDS.
 * passfd SOCK: send this process's stdout to the holder at SOCK, then exit. Together they keep an
 * exec's output open after its command (and everything it started) is gone. */
static int hand_over_stdout(int hold, const char *path, int seconds) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  if (s < 0) return perror("socket"), 1;
  char byte = 'x';
  struct iovec iov = {&byte, 1};
  char control[CMSG_SPACE(sizeof(int))];
  struct msghdr msg = {
      .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  if (!hold) {
    if (connect(s, (struct sockaddr *)&addr, sizeof addr) != 0) return perror("connect"), 1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    int fd = 1;
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    return sendmsg(s, &msg, 0) == 1 ? 0 : (perror("sendmsg"), 1);
  }
  unlink(path);
  if (bind(s, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(s, 1) != 0)
    return perror("bind"), 1;
  int c = accept(s, NULL, NULL);
  if (c < 0 || recvmsg(c, &msg, 0) != 1) return perror("recvmsg"), 1;
  sleep((unsigned)seconds); /* holding the descriptor it was sent */
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3 && argc != 4) {
    fprintf(stderr, "usage: sbx_limits_probe shared|memfd|sysv MIB [SECONDS]\n"
                    "       sbx_limits_probe holdfd|passfd SOCKET [SECONDS]\n");
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
  } else if (strcmp(argv[1], "holdfd") == 0 || strcmp(argv[1], "passfd") == 0) {
    return hand_over_stdout(argv[1][0] == 'h', argv[2], argc == 4 ? atoi(argv[3]) : 30);
  } else {
    fprintf(stderr, "unknown kind '%s'\n", argv[1]);
    return 2;
  }
  sleep(argc == 4 ? (unsigned)atoi(argv[3]) : 2);
  return 0;
}
