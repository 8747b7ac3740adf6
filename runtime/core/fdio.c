/* fdio.c: owns reading an inherited descriptor on the loop (a stdio server's stdin) and blocking
 * whole-buffer writes to one (its stdout). Streams (pipes, sockets, terminals) are read with
 * uv_read_start; anything else (a regular file, /dev/null) with uv_fs_read in the thread pool. */
#include "seer/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define FILE_CHUNK 65536

struct seer_fdreader {
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_pipe_t pipe;
    uv_tty_t tty;
    uv_tcp_t tcp;
  } u;
  int is_stream; /* 0: read through uv_fs_read */
  int fd;
  int paused, ended, closing;
  int fs_busy; /* a uv_fs_read is in flight */
  uv_fs_t fs;
  uv_loop_t *uv;
  char *file_buf; /* the read buffer, FILE_CHUNK bytes */
  seer_fdreader_opts opts;
};

static void finish(seer_fdreader *r) {
  if (r->opts.on_close) r->opts.on_close(r, r->opts.ud);
  free(r->file_buf);
  free(r);
}

static void deliver_end(seer_fdreader *r, const char *error) {
  r->ended = 1;
  if (r->opts.on_data) r->opts.on_data(r, "", 0, error, r->opts.ud);
}

/* ---- streams ---- */

/* One buffer for the reader's lifetime: each read is handed on before the next one starts. (A
 * fresh 64 KiB malloc per read, freed at once, made glibc consolidate its heap on every line.) */
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  seer_fdreader *r = h->data;
  buf->base = r->file_buf;
  buf->len = FILE_CHUNK;
}

static void on_stream_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  seer_fdreader *r = s->data;
  if (nread > 0) {
    if (!r->closing && r->opts.on_data)
      r->opts.on_data(r, buf->base, (size_t)nread, NULL, r->opts.ud);
  } else if (nread < 0) {
    uv_read_stop(s);
    if (!r->closing)
      deliver_end(r, nread == UV_EOF ? NULL : uv_strerror((int)nread));
    else
      r->ended = 1;
  }
}

static void on_handle_closed(uv_handle_t *h) { finish(h->data); }

/* ---- files and devices ---- */

static void issue_file_read(seer_fdreader *r);

static void on_file_read(uv_fs_t *req) {
  seer_fdreader *r = req->data;
  ssize_t n = req->result;
  uv_fs_req_cleanup(req);
  /* fs_busy stays set through the callbacks, so that a close from inside them waits until here. */
  if (!r->closing) {
    if (n > 0) {
      if (r->opts.on_data) r->opts.on_data(r, r->file_buf, (size_t)n, NULL, r->opts.ud);
    } else {
      deliver_end(r, n == 0 ? NULL : uv_strerror((int)n));
    }
  }
  r->fs_busy = 0;
  if (r->closing) {
    close(r->fd);
    finish(r);
    return;
  }
  if (!r->paused) issue_file_read(r);
}

static void issue_file_read(seer_fdreader *r) {
  if (r->fs_busy || r->ended) return;
  uv_buf_t buf = uv_buf_init(r->file_buf, FILE_CHUNK);
  r->fs.data = r;
  int rc = uv_fs_read(r->uv, &r->fs, r->fd, &buf, 1, -1, on_file_read);
  if (rc != 0) {
    deliver_end(r, uv_strerror(rc));
    return;
  }
  r->fs_busy = 1;
}

/* ---- public ---- */

int seer_fdreader_open(seer_loop *loop, int fd, const seer_fdreader_opts *opts, seer_fdreader **out,
                       seer_error *err) {
  seer_fdreader *r = calloc(1, sizeof *r);
  if (!r) return seer_errorf(err, SEER_ENOMEM, "out of memory");
  r->opts = *opts;
  r->fd = fd;
  uv_loop_t *uv = seer_loop_uv(loop);
  r->uv = uv;
  uv_handle_type kind = uv_guess_handle(fd);
  int rc = 0;
  r->file_buf = malloc(FILE_CHUNK); /* the read buffer, for streams and files alike */
  if (!r->file_buf) {
    free(r);
    return seer_errorf(err, SEER_ENOMEM, "out of memory");
  }
  switch (kind) {
  case UV_NAMED_PIPE: /* pipes and unix sockets */
    rc = uv_pipe_init(uv, &r->u.pipe, 0);
    if (rc == 0) rc = uv_pipe_open(&r->u.pipe, fd);
    r->is_stream = 1;
    break;
  case UV_TTY:
    rc = uv_tty_init(uv, &r->u.tty, fd, 1);
    r->is_stream = 1;
    break;
  case UV_TCP:
    rc = uv_tcp_init(uv, &r->u.tcp);
    if (rc == 0) rc = uv_tcp_open(&r->u.tcp, fd);
    r->is_stream = 1;
    break;
  case UV_FILE: break;
  default:
    free(r->file_buf);
    free(r);
    return seer_errorf(err, SEER_ENOTSUP, "descriptor %d is not a pipe, socket, terminal or file",
                       fd);
  }
  if (rc != 0) {
    if (r->is_stream) {
      /* The handle may be initialised: close it properly, without reporting anything. */
      r->opts.on_close = NULL;
      r->closing = 1;
      r->u.handle.data = r;
      uv_close(&r->u.handle, on_handle_closed);
    } else {
      free(r->file_buf);
      free(r);
    }
    return seer_errorf(err, SEER_EIO, "cannot read descriptor %d: %s", fd, uv_strerror(rc));
  }
  if (r->is_stream) {
    r->u.handle.data = r;
    uv_read_start(&r->u.stream, alloc_cb, on_stream_read);
  } else {
    issue_file_read(r);
  }
  *out = r;
  return SEER_OK;
}

void seer_fdreader_pause(seer_fdreader *r) {
  if (r->paused || r->closing) return;
  r->paused = 1;
  if (r->is_stream && !r->ended) uv_read_stop(&r->u.stream);
}

void seer_fdreader_resume(seer_fdreader *r) {
  if (!r->paused || r->closing) return;
  r->paused = 0;
  if (r->ended) return;
  if (r->is_stream)
    uv_read_start(&r->u.stream, alloc_cb, on_stream_read);
  else
    issue_file_read(r);
}

void seer_fdreader_keep_alive(seer_fdreader *r, int keep_alive) {
  if (!r->is_stream || r->closing) return; /* a thread-pool read cannot be unreferenced */
  if (keep_alive)
    uv_ref(&r->u.handle);
  else
    uv_unref(&r->u.handle);
}

void seer_fdreader_close(seer_fdreader *r) {
  if (r->closing) return;
  r->closing = 1;
  if (r->is_stream) {
    uv_close(&r->u.handle, on_handle_closed); /* closes fd too */
  } else if (!r->fs_busy) {
    close(r->fd);
    finish(r);
  } /* else: on_file_read finishes once the read in flight returns */
}

/* Waits until fd is writable (it may be non-blocking when the reader end set it so). */
static int wait_writable(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLOUT};
  int rc;
  do
    rc = poll(&p, 1, -1);
  while (rc < 0 && errno == EINTR);
  return rc < 0 ? -1 : 0;
}

int seer_fd_write_all(int fd, const void *data, size_t len, seer_error *err) {
  /* A closed reader must not kill the process with SIGPIPE: block it for this thread during the
   * write and discard one that became pending, so the write reports EPIPE instead. */
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  int already_pending = 0;
  sigset_t pending;
  if (sigpending(&pending) == 0) already_pending = sigismember(&pending, SIGPIPE);
  const char *p = data;
  int saved = 0;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (wait_writable(fd) != 0) {
        saved = errno;
        break;
      }
    } else {
      saved = n < 0 ? errno : EIO;
      break;
    }
  }
  if (saved == EPIPE && !already_pending) {
    struct timespec zero = {0, 0};
    sigtimedwait(&pipe_set, NULL, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (saved == EPIPE) return seer_errorf(err, SEER_EIO, "descriptor %d: the reader closed it", fd);
  if (saved) return seer_error_errno(err, SEER_EIO, saved, "cannot write to descriptor %d", fd);
  return SEER_OK;
}

int seer_fd_claim_stdout(int *protocol_fd, seer_error *err) {
  fflush(stdout);
  int fd = fcntl(1, F_DUPFD_CLOEXEC, 3);
  if (fd < 0) return seer_error_errno(err, SEER_EIO, errno, "cannot duplicate stdout");
  if (dup2(2, 1) < 0) {
    int saved = errno;
    close(fd);
    return seer_error_errno(err, SEER_EIO, saved, "cannot point stdout at stderr");
  }
  *protocol_fd = fd;
  return SEER_OK;
}
