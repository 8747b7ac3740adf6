/* agent_raw.c: the floor for bench/agent.lua: N sequential POSTs of one request body with plain
 * libcurl (one easy handle, keep-alive, body discarded), as any client of the API must at least
 * pay. Prints the mean seconds per request.
 *   bench_agent_raw URL BODY_FILE N [HEADER...] */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static size_t discard(char *p, size_t s, size_t n, void *ud) { return s * n; }

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: bench_agent_raw URL BODY_FILE N [HEADER...]\n");
    return 2;
  }
  FILE *f = fopen(argv[2], "rb");
  if (!f) {
    perror(argv[2]);
    return 1;
  }
  static char body[1 << 20];
  size_t len = fread(body, 1, sizeof body - 1, f);
  fclose(f);
  int n = atoi(argv[3]);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL *e = curl_easy_init();
  struct curl_slist *h = curl_slist_append(NULL, "Expect:");
  for (int i = 4; i < argc; i++)
    h = curl_slist_append(h, argv[i]);
  curl_easy_setopt(e, CURLOPT_URL, argv[1]);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)len);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
  double t0 = now();
  for (int i = 0; i < n; i++) {
    CURLcode rc = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status != 200) {
      fprintf(stderr, "request %d failed: %s, status %ld\n", i, curl_easy_strerror(rc), status);
      return 1;
    }
  }
  printf("%.9f\n", (now() - t0) / n);
  curl_slist_free_all(h);
  curl_easy_cleanup(e);
  curl_global_cleanup();
  return 0;
}
