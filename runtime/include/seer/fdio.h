/* Inherited file descriptors on the runtime loop: reading one (a stdio server's stdin) without
 * blocking the loop, and writing whole buffers to one (its stdout). Used by servers that speak a
 * protocol over their own stdin/stdout, such as `seer-lua mcp`. */
#ifndef SEER_FDIO_H
#define SEER_FDIO_H

#include <stddef.h>

#include "seer/error.h"
#include "seer/loop.h"

typedef struct seer_fdreader seer_fdreader;

typedef struct seer_fdreader_opts {
  /* Data as it arrives. len == 0 means the input ended: error is NULL at a clean end of input,
   * otherwise it says why reading failed. Nothing follows an end. */
  void (*on_data)(seer_fdreader *r, const char *data, size_t len, const char *error, void *ud);
  /* Called once after seer_fdreader_close, when the object is about to be freed. */
  void (*on_close)(seer_fdreader *r, void *ud);
  void *ud;
} seer_fdreader_opts;

/* Starts reading fd. Pipes, sockets and terminals are read as loop streams; regular files and
 * character devices (/dev/null) through the loop's thread pool. */
int seer_fdreader_open(seer_loop *loop, int fd, const seer_fdreader_opts *opts, seer_fdreader **out,
                       seer_error *err);
/* Flow control: no on_data between pause and resume (a server with too much work in flight). */
void seer_fdreader_pause(seer_fdreader *r);
void seer_fdreader_resume(seer_fdreader *r);
/* Whether a pending read keeps the loop alive (default: yes). */
void seer_fdreader_keep_alive(seer_fdreader *r, int keep_alive);
/* Stops reading and closes the descriptor; on_close follows. */
void seer_fdreader_close(seer_fdreader *r);

/* Writes all of data to fd, waiting while the reader is slow (also when fd is non-blocking). A
 * reader that went away is an error (EPIPE), never a SIGPIPE. */
int seer_fd_write_all(int fd, const void *data, size_t len, seer_error *err);

/* For a server whose protocol owns stdout: returns a new descriptor for the protocol and points
 * descriptor 1 at stderr, so that stray output (a print in served code) cannot corrupt it. */
int seer_fd_claim_stdout(int *protocol_fd, seer_error *err);

#endif
