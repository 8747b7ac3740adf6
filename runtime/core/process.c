/* process.c: owns child processes on the loop: pipes, output callbacks, exit and final close. The
 * object frees itself once the child has exited and all its pipes are closed. */
#include "seer/process.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define READ_CHUNK 65536

struct seer_process {
  uv_process_t handle;
  uv_pipe_t pipes[3]; /* stdin, stdout, stderr */
  int pipe_open[3];
  int open_handles; /* process handle + open pipes; the object is freed when it reaches 0 */
  int exited;
  seer_loop *loop;
  seer_loop_child tracked;
  seer_process_opts opts;
  char *read_buf; /* READ_CHUNK bytes, shared by the stdout and stderr pipes */
};

static void maybe_free(seer_process *p) {
  if (p->open_handles > 0) return;
  seer_loop_untrack_child(p->loop, &p->tracked);
  if (p->opts.on_close) p->opts.on_close(p, p->opts.ud);
  free(p->read_buf);
  free(p);
}

static void on_handle_closed(uv_handle_t *h) {
  seer_process *p = h->data;
  p->open_handles--;
  maybe_free(p);
}

static void close_pipe(seer_process *p, int i) {
  if (!p->pipe_open[i]) return;
  p->pipe_open[i] = 0;
  uv_close((uv_handle_t *)&p->pipes[i], on_handle_closed);
}

/* One read buffer per process, allocated at the first read: each read is handed to on_output
 * before the next starts. (A fresh 64 KiB malloc per read, freed at once, made glibc consolidate
 * its heap on every chunk of output.) */
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  seer_process *p = h->data;
  if (!p->read_buf) p->read_buf = malloc(READ_CHUNK);
  buf->base = p->read_buf;
  buf->len = p->read_buf ? READ_CHUNK : 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  seer_process *p = s->data;
  int fd = (uv_pipe_t *)s == &p->pipes[1] ? 1 : 2;
  if (nread > 0) {
    if (p->opts.on_output) p->opts.on_output(p, fd, buf->base, (size_t)nread, p->opts.ud);
  } else if (nread < 0) {
    close_pipe(p, fd);
    if (p->opts.on_output) p->opts.on_output(p, fd, "", 0, p->opts.ud);
  }
}

static void on_process_exit(uv_process_t *h, int64_t status, int term_signal) {
  seer_process *p = h->data;
  p->exited = 1;
  seer_loop_untrack_child(p->loop, &p->tracked);
  if (p->opts.on_exit) p->opts.on_exit(p, status, term_signal, p->opts.ud);
  close_pipe(p, 0); /* nobody reads it any more */
  uv_close((uv_handle_t *)&p->handle, on_handle_closed);
}

int seer_process_spawn(seer_loop *loop, const seer_process_opts *opts, seer_process **out,
                       seer_error *err) {
  if (!opts->file || !opts->argv || !opts->argv[0])
    return seer_errorf(err, SEER_EINVAL, "process: a program and argv are required");
  seer_process *p = calloc(1, sizeof *p);
  if (!p) return seer_errorf(err, SEER_ENOMEM, "out of memory");
  p->loop = loop;
  p->opts = *opts;
  uv_loop_t *uv = seer_loop_uv(loop);
  uv_stdio_container_t stdio[3];
  for (int i = 0; i < 3; i++) {
    if (i == 0 && !opts->stdin_pipe) {
      stdio[i].flags = UV_IGNORE;
      continue;
    }
    uv_pipe_init(uv, &p->pipes[i], 0);
    p->pipes[i].data = p;
    stdio[i].flags = UV_CREATE_PIPE | (i == 0 ? UV_READABLE_PIPE : UV_WRITABLE_PIPE);
    stdio[i].data.stream = (uv_stream_t *)&p->pipes[i];
    p->pipe_open[i] = 1;
    p->open_handles++;
  }
  uv_process_options_t o;
  memset(&o, 0, sizeof o);
  o.file = opts->file;
  o.args = (char **)opts->argv;
  o.env = (char **)opts->env;
  o.cwd = opts->cwd;
  o.stdio = stdio;
  o.stdio_count = 3;
  o.exit_cb = on_process_exit;
  p->handle.data = p;
  int rc = uv_spawn(uv, &p->handle, &o);
  if (rc != 0) {
    /* uv_spawn failed: the process handle still has to be closed, as do the pipes. */
    p->open_handles++;
    p->exited = 1;
    uv_close((uv_handle_t *)&p->handle, on_handle_closed);
    for (int i = 0; i < 3; i++)
      close_pipe(p, i);
    p->opts.on_output = NULL;
    p->opts.on_exit = NULL;
    p->opts.on_close = NULL;
    return seer_errorf(err, SEER_EIO, "cannot start '%s': %s", opts->file, uv_strerror(rc));
  }
  p->open_handles++;
  p->tracked.pid = p->handle.pid;
  seer_loop_track_child(loop, &p->tracked);
  for (int i = 1; i < 3; i++)
    uv_read_start((uv_stream_t *)&p->pipes[i], alloc_cb, on_read);
  *out = p;
  return SEER_OK;
}

int seer_process_pid(const seer_process *p) { return p->handle.pid; }

void seer_process_keep_alive(seer_process *p, int on) {
  uv_handle_t *handles[4] = {(uv_handle_t *)&p->handle, (uv_handle_t *)&p->pipes[0],
                             (uv_handle_t *)&p->pipes[1], (uv_handle_t *)&p->pipes[2]};
  for (int i = 0; i < 4; i++) {
    if (i == 0 ? p->exited : !p->pipe_open[i - 1]) continue;
    if (on)
      uv_ref(handles[i]);
    else
      uv_unref(handles[i]);
  }
}

typedef struct {
  uv_write_t req;
  char data[];
} write_req;

static void on_written(uv_write_t *req, int status) { free(req); }

int seer_process_write(seer_process *p, const void *data, size_t len, seer_error *err) {
  if (!p->pipe_open[0])
    return seer_errorf(err, SEER_ESTATE, "process %d: stdin is closed or not a pipe",
                       p->handle.pid);
  write_req *w = malloc(sizeof *w + len);
  if (!w) return seer_errorf(err, SEER_ENOMEM, "out of memory");
  memcpy(w->data, data, len);
  uv_buf_t buf = uv_buf_init(w->data, (unsigned)len);
  int rc = uv_write(&w->req, (uv_stream_t *)&p->pipes[0], &buf, 1, on_written);
  if (rc != 0) {
    free(w);
    return seer_errorf(err, SEER_EIO, "process %d: write to stdin failed: %s", p->handle.pid,
                       uv_strerror(rc));
  }
  return SEER_OK;
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  seer_process *p = req->handle->data;
  free(req);
  close_pipe(p, 0);
}

int seer_process_close_stdin(seer_process *p) {
  if (!p->pipe_open[0]) return SEER_OK;
  uv_shutdown_t *req = malloc(sizeof *req);
  /* Shutdown flushes queued writes before closing; fall back to a hard close if it cannot start. */
  if (!req || uv_shutdown(req, (uv_stream_t *)&p->pipes[0], on_shutdown) != 0) {
    free(req);
    close_pipe(p, 0);
  }
  return SEER_OK;
}

int seer_process_close_output(seer_process *p) {
  close_pipe(p, 1);
  close_pipe(p, 2);
  return SEER_OK;
}

int seer_process_kill(seer_process *p, int signum, seer_error *err) {
  if (p->exited) return SEER_OK;
  int rc = uv_process_kill(&p->handle, signum);
  if (rc != 0 && rc != UV_ESRCH)
    return seer_errorf(err, SEER_EIO, "cannot signal process %d: %s", p->handle.pid,
                       uv_strerror(rc));
  return SEER_OK;
}
