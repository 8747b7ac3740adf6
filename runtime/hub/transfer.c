/* transfer.c: owns a set of hub download jobs on one libcurl multi handle: scheduling (at most
 * `parallel` at once, retries after a backoff), each attempt's response head and body, resuming a
 * file from its current size with Range, streaming sha256 verification, and the limits on what a
 * server may send. The caller steps it, so a scheduler can run other work between steps. */
#include "seer/hub.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "seer/buf.h"

#define DEFAULT_MAX_BODY (16u << 20)
#define MAX_ERROR_BODY (64u << 10)
#define MAX_REDIRECTS 5
#define MAX_BACKOFF_S 8.0

enum { PENDING, RUNNING, WAITING, DONE };

typedef struct job_state {
  seer_hub_job *job;
  CURL *easy;
  struct curl_slist *req_headers;
  int state;
  double retry_at;
  int fd;               /* file jobs: open while running */
  int64_t offset;       /* bytes in the file when this attempt started */
  int64_t written;      /* bytes written by this attempt */
  size_t max_head;      /* the largest response head accepted */
  int body_started;     /* this attempt's 2xx body has begun (range checked, file positioned) */
  EVP_MD_CTX *sha;      /* file jobs with expect_sha256 */
  seer_buf head;        /* current response head */
  seer_buf body;        /* memory body, or an error body */
  seer_hub_error local; /* set by a callback that aborted the attempt */
  char local_msg[256];  /* */
  char curl_err[CURL_ERROR_SIZE];
} job_state;

struct seer_hub_transfer {
  CURLM *multi;
  seer_hub_opts o;
  char *auth_header;
  char *ua;
  job_state *js;
  size_t n;
  size_t running;
  size_t done;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(job_state *s, seer_hub_error e, const char *fmt, const char *arg) {
  s->local = e;
  snprintf(s->local_msg, sizeof s->local_msg, fmt, arg ? arg : "");
}

/* ---- hashing ---- */

static int sha_reset(job_state *s) {
  if (!s->job->expect_sha256) return 0;
  if (!s->sha) s->sha = EVP_MD_CTX_new();
  return s->sha && EVP_DigestInit_ex(s->sha, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

static void hex(const unsigned char *d, unsigned n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (unsigned i = 0; i < n; i++) {
    out[2 * i] = digits[d[i] >> 4];
    out[2 * i + 1] = digits[d[i] & 15];
  }
  out[2 * n] = 0;
}

/* Hashes what the file already holds (the part a resumed download does not fetch again). */
static int sha_prefix(job_state *s, int64_t len) {
  if (!s->sha) return 0;
  char *buf = malloc(1 << 20);
  if (!buf) return -1;
  int64_t off = 0;
  while (off < len) {
    size_t want = (size_t)(len - off < (1 << 20) ? len - off : (1 << 20));
    ssize_t r = pread(s->fd, buf, want, off);
    if (r <= 0) {
      free(buf);
      return -1;
    }
    EVP_DigestUpdate(s->sha, buf, (size_t)r);
    off += r;
  }
  free(buf);
  return 0;
}

/* ---- callbacks ---- */

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud) {
  job_state *s = ud;
  size_t len = size * nmemb;
  if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) s->head.len = 0; /* a new response (redirect) */
  if (s->head.len + len > s->max_head) {
    char lim[32];
    snprintf(lim, sizeof lim, "%zu", s->max_head);
    fail(s, SEER_HUB_HEADERS, "the response head is larger than the %s bytes allowed", lim);
    return 0;
  }
  return seer_buf_append(&s->head, data, len) == 0 ? len : 0;
}

static const char *find_header(const seer_buf *head, const char *name, size_t *vlen) {
  size_t nl = strlen(name);
  const char *p = head->data, *end = head->data + head->len;
  while (p && p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol) eol = end;
    if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      const char *v = p + nl + 1;
      while (v < eol && (*v == ' ' || *v == '\t'))
        v++;
      const char *ve = eol;
      while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
        ve--;
      *vlen = (size_t)(ve - v);
      return v;
    }
    p = eol + 1;
  }
  return NULL;
}

/* The first bytes of a 2xx file body: position the file. 200 starts over; 206 must continue
 * exactly where the file ends. */
static int begin_file_body(job_state *s, long status) {
  if (status == 200 && s->offset > 0) {
    if (ftruncate(s->fd, 0) != 0 || sha_reset(s) != 0) {
      fail(s, SEER_HUB_IO, "cannot restart the partial file: %s", strerror(errno));
      return -1;
    }
    s->offset = 0;
  } else if (status == 206) {
    size_t vlen = 0;
    const char *v = find_header(&s->head, "Content-Range", &vlen);
    char tmp[96];
    long long start = -1;
    if (v && vlen < sizeof tmp) {
      memcpy(tmp, v, vlen);
      tmp[vlen] = 0;
      if (sscanf(tmp, "bytes %lld-", &start) != 1) start = -1;
    }
    if (start != s->offset) {
      fail(s, SEER_HUB_HEADERS,
           "the server answered a resume with a Content-Range%s that does not start "
           "where the partial file ends",
           v ? "" : " missing");
      return -1;
    }
  }
  if (lseek(s->fd, s->offset, SEEK_SET) < 0) {
    fail(s, SEER_HUB_IO, "cannot seek in the partial file: %s", strerror(errno));
    return -1;
  }
  s->body_started = 1;
  return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud) {
  job_state *s = ud;
  seer_hub_job *j = s->job;
  size_t len = size * nmemb;
  long status = 0;
  curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
  int to_file = j->dest && (status == 200 || status == 206);
  if (!to_file) {
    size_t cap = j->dest ? MAX_ERROR_BODY : (j->max_body ? j->max_body : DEFAULT_MAX_BODY);
    if (s->body.len + len > cap) {
      if (j->dest) return len; /* an error page: keep its start only */
      char lim[32];
      snprintf(lim, sizeof lim, "%zu", cap);
      fail(s, SEER_HUB_SIZE, "the response body is larger than the %s bytes allowed", lim);
      return 0;
    }
    return seer_buf_append(&s->body, data, len) == 0 ? len : 0;
  }
  if (!s->body_started && begin_file_body(s, status) != 0) return 0;
  if (j->expect_size >= 0 && s->offset + s->written + (int64_t)len > j->expect_size) {
    char sz[32];
    snprintf(sz, sizeof sz, "%" PRId64, j->expect_size);
    fail(s, SEER_HUB_SIZE, "the server sent more than the %s bytes it announced", sz);
    return 0;
  }
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(s->fd, data + off, len - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail(s, errno == ENOSPC || errno == EDQUOT ? SEER_HUB_DISK : SEER_HUB_IO, "cannot write: %s",
           strerror(errno));
      return 0;
    }
    off += (size_t)w;
  }
  if (s->sha) EVP_DigestUpdate(s->sha, data, len);
  s->written += (int64_t)len;
  return len;
}

/* ---- attempts ---- */

static int file_size(int fd, int64_t *size) {
  struct stat st;
  if (fstat(fd, &st) != 0) return -1;
  *size = st.st_size;
  return 0;
}

static void finish(seer_hub_transfer *t, job_state *s) {
  seer_hub_job *j = s->job;
  if (s->fd >= 0) {
    int64_t sz = 0;
    if (file_size(s->fd, &sz) == 0) j->file_bytes = sz;
    close(s->fd);
    s->fd = -1;
  }
  seer_buf_terminate(&s->head);
  seer_buf_terminate(&s->body);
  j->headers = s->head.data;
  j->headers_len = s->head.len;
  j->body = s->body.data;
  j->body_len = s->body.len;
  memset(&s->head, 0, sizeof s->head);
  memset(&s->body, 0, sizeof s->body);
  s->state = DONE;
  t->done++;
}

static void job_fail(seer_hub_transfer *t, job_state *s, seer_hub_error e, const char *msg) {
  s->job->error = e;
  snprintf(s->job->message, sizeof s->job->message, "%s", msg);
  finish(t, s);
}

/* A file whose bytes are all there: compare the digest; a mismatch deletes the file. */
static void verify_file(seer_hub_transfer *t, job_state *s) {
  seer_hub_job *j = s->job;
  int64_t have = s->offset + s->written;
  if (j->expect_size >= 0 && have != j->expect_size) {
    char msg[160];
    snprintf(msg, sizeof msg, "the download ended at %" PRId64 " of %" PRId64 " bytes", have,
             j->expect_size);
    job_fail(t, s, SEER_HUB_SIZE, msg);
    return;
  }
  if (s->sha) {
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    char got[2 * EVP_MAX_MD_SIZE + 1];
    EVP_DigestFinal_ex(s->sha, d, &dl);
    hex(d, dl, got);
    if (strcasecmp(got, j->expect_sha256) != 0) {
      char msg[300];
      snprintf(msg, sizeof msg,
               "sha256 mismatch: the server announced %.64s but the bytes hash to %s",
               j->expect_sha256, got);
      unlink(j->dest);
      job_fail(t, s, SEER_HUB_SHA, msg);
      return;
    }
  }
  finish(t, s);
}

static int open_dest(job_state *s) {
  s->fd = open(s->job->dest, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (s->fd < 0) return -1;
  if (file_size(s->fd, &s->offset) != 0) return -1;
  if (sha_reset(s) != 0 || sha_prefix(s, s->offset) != 0) return -1;
  return 0;
}

static int configure(seer_hub_transfer *t, job_state *s) {
  seer_hub_job *j = s->job;
  CURL *e = s->easy;
  curl_easy_reset(e);
  curl_easy_setopt(e, CURLOPT_URL, j->url);
  curl_easy_setopt(e, CURLOPT_PRIVATE, s);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->curl_err);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_USERAGENT, t->ua);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(t->o.timeout_s * 1000));
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)(t->o.timeout_s < 1 ? 1 : t->o.timeout_s));
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, s);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
  curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 512L * 1024);
  curl_slist_free_all(s->req_headers);
  s->req_headers = NULL;
  if (t->auth_header) s->req_headers = curl_slist_append(s->req_headers, t->auth_header);
  if (j->head) {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    /* The hub puts the metadata (X-Linked-Etag, X-Repo-Commit) on the redirect itself. */
    s->req_headers = curl_slist_append(s->req_headers, "Accept-Encoding: identity");
  } else {
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)MAX_REDIRECTS);
  }
  if (j->dest) {
    if (open_dest(s) != 0) {
      fail(s, errno == ENOSPC ? SEER_HUB_DISK : SEER_HUB_IO, "cannot open the partial file: %s",
           strerror(errno));
      return -1;
    }
    if (s->offset > 0) {
      char range[64];
      snprintf(range, sizeof range, "Range: bytes=%" PRId64 "-", s->offset);
      s->req_headers = curl_slist_append(s->req_headers, range);
    }
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->req_headers);
  return 0;
}

static void start_attempt(seer_hub_transfer *t, job_state *s) {
  seer_hub_job *j = s->job;
  s->written = 0;
  s->body_started = 0;
  s->local = SEER_HUB_OK;
  s->local_msg[0] = s->curl_err[0] = 0;
  s->head.len = 0;
  s->body.len = 0;
  j->attempts++;
  if (configure(t, s) != 0) {
    job_fail(t, s, s->local, s->local_msg);
    return;
  }
  if (j->dest && j->expect_size >= 0 && s->offset == j->expect_size) {
    verify_file(t, s); /* finished by an earlier run: nothing to fetch */
    return;
  }
  if (j->dest && j->expect_size >= 0 && s->offset > j->expect_size) {
    /* Longer than the file can be: not a prefix of it. */
    if (ftruncate(s->fd, 0) != 0 || sha_reset(s) != 0) {
      job_fail(t, s, SEER_HUB_IO, "cannot truncate an over-long partial file");
      return;
    }
    s->offset = 0;
    return start_attempt(t, s);
  }
  if (curl_multi_add_handle(t->multi, s->easy) != CURLM_OK) {
    job_fail(t, s, SEER_HUB_IO, "libcurl refused the request");
    return;
  }
  s->state = RUNNING;
  t->running++;
}

static int retryable(long status, CURLcode rc) {
  if (rc == CURLE_OK) return status == 429 || status >= 500;
  switch (rc) {
  case CURLE_COULDNT_CONNECT:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_PARTIAL_FILE:
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_SSL_CONNECT_ERROR: return 1;
  default:
    return 0; /* an unresolvable host among them: retrying a DNS failure only delays the error */
  }
}

static void attempt_done(seer_hub_transfer *t, job_state *s, CURLcode rc) {
  seer_hub_job *j = s->job;
  curl_multi_remove_handle(t->multi, s->easy);
  t->running--;
  long status = 0;
  curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
  j->status = status;
  if (s->local != SEER_HUB_OK) { /* a limit or a local error: never retried */
    if (s->local == SEER_HUB_SIZE && j->dest) unlink(j->dest);
    job_fail(t, s, s->local, s->local_msg);
    return;
  }
  if (rc == CURLE_OK && status / 100 == 2) {
    if (j->dest) {
      if (!s->body_started && begin_file_body(s, status) != 0) { /* an empty body */
        job_fail(t, s, s->local, s->local_msg);
        return;
      }
      verify_file(t, s);
    } else {
      finish(t, s);
    }
    return;
  }
  if (retryable(status, rc) && j->attempts <= t->o.retries) {
    if (s->fd >= 0) {
      close(s->fd);
      s->fd = -1;
    }
    double delay = t->o.backoff_s;
    for (int i = 1; i < j->attempts && delay < MAX_BACKOFF_S; i++)
      delay *= 2;
    s->retry_at = now_s() + (delay < MAX_BACKOFF_S ? delay : MAX_BACKOFF_S);
    s->state = WAITING;
    return;
  }
  if (rc == CURLE_OK) { /* an HTTP error status: the caller words it */
    finish(t, s);
    return;
  }
  char msg[400];
  if (rc == CURLE_OUT_OF_MEMORY && s->head.len > 0) { /* libcurl's own bound on one header line */
    job_fail(t, s, SEER_HUB_HEADERS, "the response head has a header line too long to read");
    return;
  }
  if (rc == CURLE_TOO_MANY_REDIRECTS || rc == CURLE_UNSUPPORTED_PROTOCOL) {
    snprintf(msg, sizeof msg,
             rc == CURLE_TOO_MANY_REDIRECTS
                 ? "more than 5 redirects"
                 : "a URL or redirect with a scheme other than http or https");
    job_fail(t, s, SEER_HUB_HEADERS, msg);
    return;
  }
  if (rc == CURLE_WRITE_ERROR && s->curl_err[0] == 0)
    snprintf(msg, sizeof msg, "the transfer was aborted");
  else
    snprintf(msg, sizeof msg, "%s", s->curl_err[0] ? s->curl_err : curl_easy_strerror(rc));
  job_fail(t, s, rc == CURLE_OPERATION_TIMEDOUT ? SEER_HUB_TIMEOUT : SEER_HUB_NETWORK, msg);
}

/* ---- public ---- */

seer_hub_transfer *seer_hub_transfer_start(seer_hub_job *jobs, size_t n, const seer_hub_opts *o,
                                           char *err, size_t errlen) {
  pthread_once(&curl_once, curl_init);
  seer_hub_transfer *t = calloc(1, sizeof *t);
  if (!t) goto oom;
  t->o = *o;
  if (t->o.timeout_s <= 0) t->o.timeout_s = 30;
  if (t->o.retries < 0) t->o.retries = 0;
  if (t->o.backoff_s <= 0) t->o.backoff_s = 0.5;
  if (t->o.parallel <= 0) t->o.parallel = 8;
  if (t->o.max_header_bytes == 0) t->o.max_header_bytes = 64u << 10;
  t->ua = strdup(o->user_agent ? o->user_agent : "seer-lua");
  if (o->authorization) {
    size_t len = strlen(o->authorization) + 32;
    t->auth_header = malloc(len);
    if (t->auth_header) snprintf(t->auth_header, len, "Authorization: %s", o->authorization);
  }
  t->multi = curl_multi_init();
  t->js = calloc(n ? n : 1, sizeof *t->js);
  if (!t->ua || !t->multi || !t->js || (o->authorization && !t->auth_header)) goto oom;
  t->n = n;
  for (size_t i = 0; i < n; i++) {
    job_state *s = &t->js[i];
    s->job = &jobs[i];
    s->fd = -1;
    s->state = PENDING;
    s->max_head = t->o.max_header_bytes;
    s->easy = curl_easy_init();
    if (!s->easy) goto oom;
    memset(jobs[i].message, 0, sizeof jobs[i].message);
    jobs[i].status = 0;
    jobs[i].error = SEER_HUB_OK;
    jobs[i].headers = jobs[i].body = NULL;
    jobs[i].headers_len = jobs[i].body_len = 0;
    jobs[i].file_bytes = 0;
    jobs[i].attempts = 0;
  }
  return t;
oom:
  snprintf(err, errlen, "out of memory starting the transfer");
  seer_hub_transfer_free(t);
  return NULL;
}

static void schedule(seer_hub_transfer *t) {
  double now = now_s();
  for (size_t i = 0; i < t->n && t->running < (size_t)t->o.parallel; i++) {
    job_state *s = &t->js[i];
    if (s->state == PENDING || (s->state == WAITING && s->retry_at <= now)) start_attempt(t, s);
  }
}

int seer_hub_transfer_step(seer_hub_transfer *t, int timeout_ms) {
  if (t->done == t->n) return 1;
  schedule(t);
  int still = 0;
  curl_multi_perform(t->multi, &still);
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(t->multi, &left))) {
    if (m->msg != CURLMSG_DONE) continue;
    job_state *s = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
    if (s && s->state == RUNNING) attempt_done(t, s, m->data.result);
  }
  if (t->done == t->n) return 1;
  schedule(t);
  if (timeout_ms > 0) {
    if (t->running > 0) {
      curl_multi_poll(t->multi, NULL, 0, timeout_ms, NULL);
    } else { /* only retries waiting: sleep until the first is due, at most timeout_ms */
      double first = -1, now = now_s();
      for (size_t i = 0; i < t->n; i++)
        if (t->js[i].state == WAITING && (first < 0 || t->js[i].retry_at < first))
          first = t->js[i].retry_at;
      double wait = first < 0 ? 0 : first - now;
      if (wait > timeout_ms / 1000.0) wait = timeout_ms / 1000.0;
      if (wait > 0) usleep((useconds_t)(wait * 1e6));
    }
  }
  return t->done == t->n;
}

void seer_hub_transfer_progress(const seer_hub_transfer *t, int64_t *bytes, int64_t *total,
                                size_t *jobs_done) {
  int64_t b = 0, tot = 0;
  for (size_t i = 0; i < t->n; i++) {
    const job_state *s = &t->js[i];
    const seer_hub_job *j = s->job;
    if (!j->dest) continue;
    if (s->state == DONE)
      b += j->file_bytes;
    else if (s->state == RUNNING)
      b += s->offset + s->written;
    if (tot >= 0) tot = j->expect_size >= 0 ? tot + j->expect_size : -1;
  }
  *bytes = b;
  *total = tot;
  *jobs_done = t->done;
}

void seer_hub_transfer_free(seer_hub_transfer *t) {
  if (!t) return;
  for (size_t i = 0; t->js && i < t->n; i++) {
    job_state *s = &t->js[i];
    if (s->state == RUNNING) curl_multi_remove_handle(t->multi, s->easy);
    if (s->easy) curl_easy_cleanup(s->easy);
    if (s->fd >= 0) close(s->fd);
    curl_slist_free_all(s->req_headers);
    if (s->sha) EVP_MD_CTX_free(s->sha);
    seer_buf_free(&s->head);
    seer_buf_free(&s->body);
  }
  if (t->multi) curl_multi_cleanup(t->multi);
  free(t->js);
  free(t->auth_header);
  free(t->ua);
  free(t);
}

void seer_hub_job_clear(seer_hub_job *j) {
  free(j->headers);
  free(j->body);
  j->headers = j->body = NULL;
  j->headers_len = j->body_len = 0;
}
