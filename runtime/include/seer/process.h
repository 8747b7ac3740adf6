/* Child processes on the runtime loop: piped stdin/stdout/stderr, streamed output, exit status or
 * signal, and kill. Output and exit arrive through callbacks run by seer_loop_run_once. */
#ifndef SEER_PROCESS_H
#define SEER_PROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "seer/error.h"
#include "seer/loop.h"

typedef struct seer_process seer_process;

typedef struct seer_process_opts {
  const char *file;        /* program; looked up in PATH when it has no '/' */
  const char *const *argv; /* NULL-terminated; argv[0] is conventionally the program name */
  const char *const *env;  /* NULL-terminated "KEY=VALUE" list; NULL inherits the parent's */
  const char *cwd;         /* NULL: the parent's */
  int stdin_pipe;          /* 1: writable with seer_process_write; 0: /dev/null */
  /* fd is 1 or 2; len == 0 means end of that stream. */
  void (*on_output)(seer_process *p, int fd, const char *data, size_t len, void *ud);
  /* Called once; exit_status is meaningful when term_signal == 0. */
  void (*on_exit)(seer_process *p, int64_t exit_status, int term_signal, void *ud);
  /* Called once everything is closed and the process object is about to be freed. */
  void (*on_close)(seer_process *p, void *ud);
  void *ud;
} seer_process_opts;

int seer_process_spawn(seer_loop *loop, const seer_process_opts *opts, seer_process **out,
                       seer_error *err);
int seer_process_pid(const seer_process *p);
/* Queues data for the child's stdin (copied). */
int seer_process_write(seer_process *p, const void *data, size_t len, seer_error *err);
int seer_process_close_stdin(seer_process *p);
int seer_process_kill(seer_process *p, int signum, seer_error *err);
/* Stops reading stdout and stderr and closes them, with no further output callbacks: for output
 * that something other than the child (a process it handed the pipe to) holds open. */
int seer_process_close_output(seer_process *p);
/* on = 0: the child and its pipes no longer keep the loop alive (a helper that lives as long as the
 * program, such as a session's sandbox); on = 1 (the default): they do. */
void seer_process_keep_alive(seer_process *p, int on);

#endif
