/* The RPC frame reader and the blocking client against hostile bytes: frames cut at every byte
 * boundary, the lone 0xc0 frame, each limit (wire bytes at the header, values, depth, decoded
 * bytes, values inside named arguments), and the C client facing a hostile server on a real unix
 * socket (a 0xc0 answer, a partial answer then silence, a values bomb, a symlinked socket). */
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "seer/rpc.h"

/* Feeds `len` bytes `chunk` at a time; returns the number of frames read, -1 on a frame error
 * (its message in msg). */
static int feed(const char *data, size_t len, size_t chunk, const seer_rpc_limits *lim,
                msgpack_object *last, char *msg, size_t msglen) {
  seer_rpc_reader r;
  CHECK(seer_rpc_reader_init(&r) == 0);
  int frames = 0;
  for (size_t pos = 0; pos < len;) {
    size_t n = len - pos < chunk ? len - pos : chunk, avail;
    char *dst = seer_rpc_reader_space(&r, n, &avail);
    memcpy(dst, data + pos, n);
    seer_rpc_reader_commit(&r, n);
    pos += n;
    int rc;
    msgpack_object o;
    while ((rc = seer_rpc_reader_next(&r, lim, &o, msg, msglen)) == SEER_RPC_FRAME_READY) {
      frames++;
      if (last) *last = o; /* scalars only: the zone goes with the reader */
    }
    if (rc == SEER_RPC_FRAME_ERROR) {
      frames = -1;
      break;
    }
  }
  seer_rpc_reader_destroy(&r);
  return frames;
}

static void test_reader(void) {
  seer_rpc_limits def = seer_rpc_limits_default();
  char msg[256];
  msgpack_object o;
  /* Three frames ([0,1,"add",[2,3]], nil, 7) cut at every boundary. */
  const char three[] = "\x94\x00\x01\xa3"
                       "add\x92\x02\x03\xc0\x07";
  for (size_t chunk = 1; chunk <= sizeof three; chunk++) {
    int n = feed(three, sizeof three - 1, chunk, &def, &o, msg, sizeof msg);
    CHECK_MSG(n == 3, "chunk %zu: %d frames", chunk, n);
    CHECK(o.type == MSGPACK_OBJECT_POSITIVE_INTEGER && o.via.u64 == 7);
  }
  /* The lone nil that crashed msgpack-c's unpacker (NULL zone). */
  CHECK(feed("\xc0", 1, 1, &def, &o, msg, sizeof msg) == 1 && o.type == MSGPACK_OBJECT_NIL);
  CHECK(feed("\xc1", 1, 1, &def, NULL, msg, sizeof msg) == -1);
  CHECK_STR_CONTAINS(msg, "0xc1");

  seer_rpc_limits tiny = {64, 8, 3, 1024};
  /* A str32 header announcing 4 GB: refused at the header, not after buffering. */
  CHECK(feed("\xdb\xff\xff\xff\xff", 5, 5, &tiny, NULL, msg, sizeof msg) == -1);
  CHECK_STR_CONTAINS(msg, "exceeds the limit of 64 bytes");
  /* An array announcing more values than allowed: refused at its header. */
  CHECK(feed("\xdd\xff\xff\xff\xff", 5, 5, &tiny, NULL, msg, sizeof msg) == -1);
  CHECK_STR_CONTAINS(msg, "more than 8 values");
  /* Four nested arrays under a depth limit of 3. */
  CHECK(feed("\x91\x91\x91\x91\xc0", 5, 1, &tiny, NULL, msg, sizeof msg) == -1);
  CHECK_STR_CONTAINS(msg, "nested deeper than 3 levels");
  CHECK(feed("\x91\x91\x91\xc0", 4, 1, &tiny, NULL, msg, sizeof msg) == 1);
  /* Decoded bytes: two 40-byte strings fit 1024 bytes; with max_decoded 100 they do not. */
  char two[85] = "\x92\xd9\x28";
  memset(two + 3, 'x', 40);
  two[43] = '\xd9', two[44] = 0x28;
  memset(two + 45, 'y', 40);
  seer_rpc_limits small = {1024, 8, 3, 100};
  CHECK(feed(two, 85, 7, &def, NULL, msg, sizeof msg) == 1);
  CHECK(feed(two, 85, 7, &small, NULL, msg, sizeof msg) == -1);
  CHECK_STR_CONTAINS(msg, "max_decoded");
  /* Values inside named arguments (ext 2) count with the frame. */
  char named[] = "\x91\xc7\x0b\x02\x9a\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0";
  CHECK(feed(named, sizeof named - 1, 3, &def, NULL, msg, sizeof msg) == 1);
  CHECK(feed(named, sizeof named - 1, 3, &tiny, NULL, msg, sizeof msg) == -1);
  CHECK_STR_CONTAINS(msg, "values");
  named[2] = 0x0c; /* the payload claims a byte more than its value: malformed */
  char longer[sizeof named + 1];
  memcpy(longer, named, sizeof named - 1);
  longer[sizeof named - 1] = '\xc0';
  CHECK(feed(longer, sizeof named, 3, &def, NULL, msg, sizeof msg) == -1);
  CHECK_STR_CONTAINS(msg, "exactly one msgpack value");
}

/* A hostile server in a child process: accepts one connection, reads the request, writes
 * `reply`, then waits to be killed. */
static pid_t hostile_server(const char *path, const char *reply, size_t len) {
  int ls = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  unlink(path);
  CHECK(bind(ls, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(ls, 4) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    int c = accept(ls, NULL, NULL);
    char buf[4096];
    if (read(c, buf, sizeof buf) > 0) {
      for (size_t off = 0; off < len;) {
        ssize_t w = write(c, reply + off, len - off);
        if (w <= 0) break;
        off += (size_t)w;
      }
    }
    pause();
    _exit(0);
  }
  close(ls);
  return pid;
}

static int call_hostile(const char *dir, const char *reply, size_t len, double timeout,
                        seer_error *err) {
  char path[200];
  snprintf(path, sizeof path, "%s/hostile.sock", dir);
  pid_t pid = hostile_server(path, reply, len);
  char addr[220];
  snprintf(addr, sizeof addr, "unix:%s", path);
  seer_rpc_client *c = NULL;
  int rc = seer_rpc_client_connect(addr, NULL, 5, &c, err);
  if (rc == SEER_OK) {
    seer_rpc_client_set_timeout(c, timeout);
    msgpack_unpacked res;
    msgpack_unpacked_init(&res);
    rc = seer_rpc_client_call(c, "f", NULL, 0, &res, err);
    msgpack_unpacked_destroy(&res);
    seer_rpc_client_close(c);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return rc;
}

static void test_client(void) {
  char dir[] = "/tmp/seer-rpc-frame-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  seer_error err;
  /* A lone nil is not an answer: the call waits, then times out (no crash). */
  CHECK(call_hostile(dir, "\xc0", 1, 0.3, &err) == SEER_ETIMEOUT);
  CHECK_STR_CONTAINS(err.msg, "did not answer within 0.3 s");
  /* Part of an answer, then silence. */
  CHECK(call_hostile(dir, "\x94\x01\x01", 3, 0.3, &err) == SEER_ETIMEOUT);
  CHECK_STR_CONTAINS(err.msg, "3 bytes of a frame received");
  /* An array announcing 4 G values. */
  CHECK(call_hostile(dir, "\xdd\xff\xff\xff\xff\xc0", 6, 5, &err) == SEER_EFORMAT);
  CHECK_STR_CONTAINS(err.msg, "more than 4194304 values");
  /* A symlink in place of the socket is refused before connecting. */
  char real[200], link[200], addr[220];
  snprintf(real, sizeof real, "%s/real.sock", dir);
  snprintf(link, sizeof link, "%s/link.sock", dir);
  pid_t pid = hostile_server(real, "", 0);
  CHECK(symlink(real, link) == 0);
  snprintf(addr, sizeof addr, "unix:%s", link);
  seer_rpc_client *c = NULL;
  CHECK(seer_rpc_client_connect(addr, NULL, 5, &c, &err) == SEER_EINVAL);
  CHECK_STR_CONTAINS(err.msg, "symbolic link");
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  unlink(link);
  unlink(real);
  char sock[200];
  snprintf(sock, sizeof sock, "%s/hostile.sock", dir);
  unlink(sock);
  rmdir(dir);
}

int main(void) {
  test_reader();
  test_client();
  return check_summary();
}
