/* Hub transfers: many HTTP requests at once over one libcurl multi handle, stepped by the caller
 * (so that a scheduler can run between steps), for downloading model repositories. A job either
 * collects a bounded response body in memory (API calls, HEAD metadata) or streams a file to disk,
 * resuming from what the file already holds with a Range request, verifying its size and sha256 as
 * it arrives, and retrying with backoff on dropped connections, timeouts, 429 and 5xx.
 * Everything a server sends is bounded: header bytes, body bytes, redirects and their protocols. */
#ifndef SEER_HUB_H
#define SEER_HUB_H

#include <stddef.h>
#include <stdint.h>

typedef struct seer_hub_transfer seer_hub_transfer;

/* Why a job failed; SEER_HUB_OK also when the server answered with an HTTP error status (the job's
 * status says which), so that the caller words the 401/403/404 advice. */
typedef enum {
  SEER_HUB_OK = 0,
  SEER_HUB_NETWORK, /* connection refused, reset, dropped mid-body, after all retries */
  SEER_HUB_TIMEOUT, /* no byte for timeout_s, after all retries */
  SEER_HUB_SHA,     /* the file's sha256 is not the one announced: the file was deleted */
  SEER_HUB_SIZE,    /* more bytes than announced or allowed, or fewer at the end */
  SEER_HUB_HEADERS, /* a head over max_header_bytes, a bad Content-Range, a refused redirect */
  SEER_HUB_DISK,    /* the disk is full */
  SEER_HUB_IO,      /* another local file error */
} seer_hub_error;

typedef struct seer_hub_job {
  /* ---- in ---- */
  const char *url;     /* copied */
  int head;            /* 1: HEAD, redirects not followed (the hub's metadata lives on them) */
  const char *dest;    /* GET into this file, resuming from its current size; NULL: memory */
  int64_t expect_size; /* the file's announced size, -1 if unknown */
  const char *expect_sha256; /* 64 lowercase hex digits, or NULL: no check */
  size_t max_body;           /* memory jobs: the largest body kept (default 16 MiB) */
  /* ---- out (valid once the transfer is done) ---- */
  long status;          /* final HTTP status, 0 if none */
  seer_hub_error error; /* SEER_HUB_OK unless the job failed locally or on the network */
  char message[512];    /* what went wrong, for the error */
  char *headers;        /* the final response's head, "Name: value\r\n" lines (owned) */
  size_t headers_len;   /* */
  char *body;           /* memory jobs, and error bodies of file jobs (at most 64 KiB); owned */
  size_t body_len;      /* */
  int64_t file_bytes;   /* file jobs: bytes in dest at the end */
  int attempts;         /* requests made */
} seer_hub_job;

typedef struct seer_hub_opts {
  const char *authorization; /* "Bearer hf_..." or NULL; never sent to another host on redirect */
  const char *user_agent;    /* NULL: "seer-lua" */
  double timeout_s;          /* connect timeout and longest stall (no byte received); 0: 30 s */
  int retries;               /* further attempts after a retryable failure; <0: 0; default 5 */
  double backoff_s;          /* first retry delay, doubling, capped at 8 s; 0: 0.5 s */
  int parallel;              /* simultaneous requests; 0: 8 */
  size_t max_header_bytes;   /* one response head; 0: 64 KiB */
} seer_hub_opts;

/* Starts the jobs (the array must outlive the transfer; results are written into it). Returns NULL
 * and fills err when libcurl cannot start. */
seer_hub_transfer *seer_hub_transfer_start(seer_hub_job *jobs, size_t n, const seer_hub_opts *o,
                                           char *err, size_t errlen);
/* Runs transfers for at most timeout_ms (0: only what is ready). Returns 1 once every job is done.
 */
int seer_hub_transfer_step(seer_hub_transfer *t, int timeout_ms);
/* Bytes in the destination files so far, and the sum of their announced sizes (-1 if a size is
 * unknown); jobs finished counts every done job, failed or not. */
void seer_hub_transfer_progress(const seer_hub_transfer *t, int64_t *bytes, int64_t *total,
                                size_t *jobs_done);
/* Stops what still runs (partial files stay for a later resume) and frees the transfer; the jobs'
 * owned outputs are released by seer_hub_job_clear. */
void seer_hub_transfer_free(seer_hub_transfer *t);
void seer_hub_job_clear(seer_hub_job *j);

/* ---- the cache's file operations ---- */

/* flock(2) on path (created 0644 if missing), the lock huggingface_hub's filelock takes too.
 * wait: block until it is free. Returns the fd, -1 with errno EWOULDBLOCK when held elsewhere (and
 * not waiting), or -1 with another errno. Release by closing the fd. */
int seer_hub_lock(const char *path, int wait);
/* Bytes free to an unprivileged writer on the filesystem of path; -1 on error. */
int64_t seer_hub_free_bytes(const char *path);
/* sha256 of a file's bytes as 64 lowercase hex digits into out[65]; 0 or -1 with errno. */
int seer_hub_sha256_file(const char *path, char out[65]);
/* Replaces dst by a symlink whose target is `target`, atomically (a temporary link renamed over).
 */
int seer_hub_symlink(const char *target, const char *dst);

#endif
