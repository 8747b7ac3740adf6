/* bench/rpc.c: RPC round-trip latency and bulk throughput through `seer-lua serve`, against the
 * physical floor measured in the same run: a raw C ping-pong over a Unix socket with the same
 * message sizes. Claims (bench/README.md, "rpc"): no-op call p50 <= 1.5x the floor's p50; a 1M f32
 * tensor return at >= 50% of the floor's MB/s for the same byte count.
 *
 * usage: bench_rpc [SEER_LUA [INTERFACE]]   (defaults: $SEER_LUA_BIN or ./seer-lua next to this
 * program's build dir, and bench/rpc_interface.lua under $SEER_SOURCE_DIR or the current dir)
 * Set SEER_BENCH_RPC_ADDR=unix:PATH to measure an already running server instead (the sandbox
 * variant: a served interface inside a sandbox). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "seer/rpc.h"

#define LAT_N 20000
#define LAT_WARM 2000
#define LAT_BLOCK 1000 /* calls per side before switching to the other */
#define BULK_N 30
#define BULK_WARM 3
#define COLD_N 20

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return v[(int)(p * (n - 1))];
}

static void die(const char *what, const seer_error *err) {
  fprintf(stderr, "bench_rpc: %s: %s\n", what, err ? err->msg : strerror(errno));
  exit(1);
}

static int read_full(int fd, char *p, size_t n) {
  while (n) {
    ssize_t r = read(fd, p, n);
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

static int write_full(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* The floor: a child that answers every req-byte message with resp bytes, over a Unix socket. */
typedef struct {
  int fd;
  pid_t pid;
} floor_peer;

static floor_peer floor_start(size_t req, size_t resp) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) die("socketpair", NULL);
  pid_t pid = fork();
  if (pid == 0) {
    close(sv[0]);
    char *in = malloc(req), *out = calloc(1, resp);
    while (read_full(sv[1], in, req) == 0 && write_full(sv[1], out, resp) == 0)
      ;
    _exit(0);
  }
  close(sv[1]);
  return (floor_peer){sv[0], pid};
}

static void floor_stop(floor_peer *f) {
  close(f->fd);
  waitpid(f->pid, NULL, 0);
}

/* Frame sizes of a call, packed as the client packs it. */
static size_t request_size(const char *method, uint32_t id) {
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 4);
  msgpack_pack_int(&pk, 0);
  msgpack_pack_uint32(&pk, id);
  msgpack_pack_str(&pk, strlen(method));
  msgpack_pack_str_body(&pk, method, strlen(method));
  msgpack_pack_array(&pk, 0);
  size_t n = sb.size;
  msgpack_sbuffer_destroy(&sb);
  return n;
}

static size_t response_size(uint32_t id, size_t result_size) {
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 4);
  msgpack_pack_int(&pk, 1);
  msgpack_pack_uint32(&pk, id);
  msgpack_pack_nil(&pk);
  size_t n = sb.size + result_size;
  msgpack_sbuffer_destroy(&sb);
  return n;
}

static size_t object_size(const msgpack_object *o) {
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_object(&pk, *o);
  size_t n = sb.size;
  msgpack_sbuffer_destroy(&sb);
  return n;
}

static pid_t start_server(const char *seer_lua, const char *iface, const char *addr) {
  int pfd[2];
  if (pipe(pfd) != 0) die("pipe", NULL);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pfd[1], 1);
    close(pfd[0]);
    execl(seer_lua, seer_lua, "serve", iface, "--listen", addr, (char *)NULL);
    fprintf(stderr, "bench_rpc: cannot run %s: %s\n", seer_lua, strerror(errno));
    _exit(127);
  }
  close(pfd[1]);
  FILE *f = fdopen(pfd[0], "r");
  char line[512];
  if (!fgets(line, sizeof line, f) || strncmp(line, "listening on ", 13) != 0) {
    fprintf(stderr, "bench_rpc: the server did not start (run %s serve %s by hand)\n", seer_lua,
            iface);
    exit(1);
  }
  return pid;
}

/* Runs `seer-lua bench/rpc_client.lua ARGS` and returns its output (the Lua-client rows: the script
 * measures, this program compares with the floor measured in the same run); NULL when it failed. */
static char *run_lua(const char *seer_lua, const char *script, const char *args) {
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "'%s' '%s' %s", seer_lua, script, args);
  FILE *f = popen(cmd, "r");
  if (!f) return NULL;
  size_t cap = 1 << 16, n = 0;
  char *out = calloc(1, cap);
  size_t r;
  while (n + 1 < cap && (r = fread(out + n, 1, cap - 1 - n, f)) > 0)
    n += r;
  if (pclose(f) != 0) {
    fprintf(stderr, "bench_rpc: %s failed:\n%s", cmd, out);
    free(out);
    return NULL;
  }
  return out;
}

/* The numbers after "key p50 " in out: "p50 A p99 B" or "p50 A p90 B max C". */
static int find_row(const char *out, const char *key, const char *fmt, double *a, double *b,
                    double *c) {
  const char *p = out ? strstr(out, key) : NULL;
  if (!p) return -1;
  return sscanf(p + strlen(key), fmt, a, b, c) >= 2 ? 0 : -1;
}

/* A method returning a 1M-element f32 tensor: MB/s through the server vs the floor moving the same
 * bytes. */
static void bulk(seer_rpc_client *c, const char *method, char *buf, const char *what) {
  seer_error err;
  msgpack_unpacked res;
  msgpack_unpacked_init(&res);
  floor_peer fl;
  if (seer_rpc_client_call(c, method, NULL, 0, &res, &err) != SEER_OK) die(method, &err);
  size_t bytes = response_size(1, object_size(&res.data));
  double t_total = 0;
  for (int i = 0; i < BULK_WARM + BULK_N; i++) {
    double t0 = now();
    if (seer_rpc_client_call(c, method, NULL, 0, &res, &err) != SEER_OK) die(method, &err);
    if (i >= BULK_WARM) t_total += now() - t0;
  }
  double mbs = (double)bytes * BULK_N / t_total / 1e6;
  fl = floor_start(request_size(method, 1), bytes);
  double f_total = 0;
  for (int i = 0; i < BULK_WARM + BULK_N; i++) {
    double t0 = now();
    if (write_full(fl.fd, buf, request_size(method, 1)) || read_full(fl.fd, buf, bytes))
      die("floor", NULL);
    if (i >= BULK_WARM) f_total += now() - t0;
  }
  floor_stop(&fl);
  double fmbs = (double)bytes * BULK_N / f_total / 1e6;
  printf("%s: 1M-element f32 tensor return, %s (%zu B response), %d calls:\n", method, what, bytes,
         BULK_N);
  printf("  seer-lua serve   %8.0f MB/s   (%.2f ms per call)\n", mbs, t_total / BULK_N * 1e3);
  printf("  C floor          %8.0f MB/s   (%.2f ms per call)\n", fmbs, f_total / BULK_N * 1e3);
  printf("  ratio %.0f%% of the floor (target >= 50%%)\n", 100 * mbs / fmbs);
  msgpack_unpacked_destroy(&res);
}

int main(int argc, char **argv) {
  char default_bin[4096], default_iface[4096];
  const char *env_bin = getenv("SEER_LUA_BIN");
  snprintf(default_bin, sizeof default_bin, "%s", env_bin ? env_bin : "./seer-lua");
  const char *src = getenv("SEER_SOURCE_DIR");
  snprintf(default_iface, sizeof default_iface, "%s/bench/rpc_interface.lua", src ? src : ".");
  const char *seer_lua = argc > 1 ? argv[1] : default_bin;
  const char *iface = argc > 2 ? argv[2] : default_iface;
  const char *given = getenv("SEER_BENCH_RPC_ADDR");
  const char *only = getenv("SEER_BENCH_RPC_ONLY"); /* "noop": skip the tensor rows */

  char dir[] = "/tmp/seer-bench-rpc-XXXXXX", addr[600];
  pid_t server = 0;
  if (given) {
    snprintf(addr, sizeof addr, "%s", given);
  } else {
    if (!mkdtemp(dir)) die("mkdtemp", NULL);
    snprintf(addr, sizeof addr, "unix:%s/s.sock", dir);
    server = start_server(seer_lua, iface, addr);
  }
  seer_error err;
  seer_rpc_client *c;
  if (seer_rpc_client_connect(addr, NULL, 10, &c, &err) != SEER_OK) die("connect", &err);

  /* ---- latency of a no-op call ---- */
  static double t_rpc[LAT_N], t_floor[LAT_N];
  msgpack_unpacked res;
  msgpack_unpacked_init(&res);
  size_t req = request_size("noop", LAT_N), resp = response_size(LAT_N, 1);
  floor_peer fl = floor_start(req, resp);
  char *buf = calloc(1, 8 << 20);
  /* Alternating blocks of calls (warm-up first), so that both sides see the same moments of a
   * shared machine's load. */
  for (int i = 0; i < LAT_WARM; i++) {
    if (seer_rpc_client_call(c, "noop", NULL, 0, &res, &err) != SEER_OK) die("noop", &err);
    if (write_full(fl.fd, buf, req) || read_full(fl.fd, buf, resp)) die("floor", NULL);
  }
  for (int b = 0; b < LAT_N; b += LAT_BLOCK) {
    for (int i = b; i < b + LAT_BLOCK && i < LAT_N; i++) {
      double t0 = now();
      if (seer_rpc_client_call(c, "noop", NULL, 0, &res, &err) != SEER_OK) die("noop", &err);
      t_rpc[i] = now() - t0;
    }
    for (int i = b; i < b + LAT_BLOCK && i < LAT_N; i++) {
      double t0 = now();
      if (write_full(fl.fd, buf, req) || read_full(fl.fd, buf, resp)) die("floor", NULL);
      t_floor[i] = now() - t0;
    }
  }
  floor_stop(&fl);
  double r50 = pct(t_rpc, LAT_N, 0.5) * 1e6, r99 = pct(t_rpc, LAT_N, 0.99) * 1e6;
  double f50 = pct(t_floor, LAT_N, 0.5) * 1e6, f99 = pct(t_floor, LAT_N, 0.99) * 1e6;
  printf("rpc no-op call (%zu B request, %zu B response), %d calls, C client -> seer-lua serve:\n",
         req, resp, LAT_N);
  printf("  seer-lua serve   p50 %7.1f us   p99 %7.1f us\n", r50, r99);
  printf("  C floor          p50 %7.1f us   p99 %7.1f us   (unix socket ping-pong)\n", f50, f99);
  printf("  ratio p50 %.2fx (target <= 1.5x)\n", r50 / f50);
  fflush(stdout);

  /* ---- the same call from Lua clients: seer.rpc.connect, and a sandbox's served client ---- */
  char script[4096], noop_iface[4096], args[4200];
  snprintf(script, sizeof script, "%.*s/rpc_client.lua",
           strrchr(iface, '/') ? (int)(strrchr(iface, '/') - iface) : 1,
           strrchr(iface, '/') ? iface : ".");
  snprintf(noop_iface, sizeof noop_iface, "%.*s/rpc_noop_interface.lua",
           strrchr(iface, '/') ? (int)(strrchr(iface, '/') - iface) : 1,
           strrchr(iface, '/') ? iface : ".");
  double l50, l99, x;
  snprintf(args, sizeof args, "client '%s' %d", addr, LAT_N);
  char *out = run_lua(seer_lua, script, args);
  if (find_row(out, "noop", " p50 %lf p99 %lf", &l50, &l99, &x) == 0) {
    printf(
        "  Lua client       p50 %7.1f us   p99 %7.1f us   (seer.rpc.connect -> seer-lua serve)\n",
        l50, l99);
    printf("  ratio p50 %.2fx (target <= 1.5x)\n", l50 / f50);
  }
  free(out);
  fflush(stdout);
  if (!getenv("SEER_BENCH_RPC_NO_SANDBOX")) {
    double s50, s99, c50, c90, cmax;
    snprintf(args, sizeof args, "sandbox '%s' %d %d", noop_iface, LAT_N / 4, COLD_N);
    out = run_lua(seer_lua, script, args);
    if (find_row(out, "sandbox", " p50 %lf p99 %lf", &s50, &s99, &x) == 0) {
      printf("  sandbox socket   p50 %7.1f us   p99 %7.1f us   (ScopedSandbox:serve, its client)\n",
             s50, s99);
      printf("  ratio p50 %.2fx (target <= 1.5x)\n", s50 / f50);
    }
    if (find_row(out, "cold", " p50 %lf p90 %lf max %lf", &c50, &c90, &cmax) == 0)
      printf("cold start, ScopedSandbox:start() to the first answered call (no model), %d runs:\n"
             "  p50 %.1f ms   p90 %.1f ms   max %.1f ms   (target p50 <= 100 ms)\n",
             COLD_N, c50, c90, cmax);
    free(out);
  }

  /* ---- bulk: a 1M-element f32 tensor ---- */
  if (!only || strcmp(only, "noop") != 0) {
    bulk(c, "tensor", buf, "encoded by seer.tensor on each call");
    bulk(c, "tensor_preencoded", buf, "ext 1 encoded once: the RPC layer alone");
  }
  fflush(stdout);

  msgpack_unpacked_destroy(&res);
  seer_rpc_client_close(c);
  free(buf);
  if (server) {
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
    rmdir(dir);
  }
  return 0;
}
