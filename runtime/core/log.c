/* log.c: owns the process-wide log level and the stderr log line format. */
#include "seer/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const level_names[] = {"trace", "debug", "info", "warn", "error", "off"};
static int current_level = -1; /* -1: not yet read from the environment */

int seer_log_parse_level(const char *name) {
  if (!name) return -1;
  for (int i = 0; i <= SEER_LOG_OFF; i++)
    if (strcasecmp(name, level_names[i]) == 0) return i;
  if (strcasecmp(name, "warning") == 0) return SEER_LOG_WARN;
  return -1;
}

const char *seer_log_level_name(int level) {
  return level >= 0 && level <= SEER_LOG_OFF ? level_names[level] : "?";
}

int seer_log_level(void) {
  if (current_level < 0) {
    int lvl = seer_log_parse_level(getenv("SEER_LOG_LEVEL"));
    current_level = lvl >= 0 ? lvl : SEER_LOG_WARN;
  }
  return current_level;
}

void seer_log_set_level(int level) {
  if (level >= 0 && level <= SEER_LOG_OFF) current_level = level;
}

void seer_log(int level, const char *component, const char *fmt, ...) {
  if (level < seer_log_level() || level >= SEER_LOG_OFF) return;
  char line[4096];
  int n = snprintf(line, sizeof line, "[seer %s%s%s] ", level_names[level], component ? " " : "",
                   component ? component : "");
  va_list ap;
  va_start(ap, fmt);
  if (n > 0 && (size_t)n < sizeof line) vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  /* One fputs per line keeps concurrent writers from interleaving mid-line. */
  size_t len = strlen(line);
  if (len + 1 < sizeof line) {
    line[len] = '\n';
    line[len + 1] = '\0';
  }
  fputs(line, stderr);
}
