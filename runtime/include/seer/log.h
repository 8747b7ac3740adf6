/* Leveled logging to stderr, shared by the C runtime and the Lua layer. The level comes from
 * SEER_LOG_LEVEL (trace, debug, info, warn, error, off) unless set explicitly. */
#ifndef SEER_LOG_H
#define SEER_LOG_H

enum { SEER_LOG_TRACE, SEER_LOG_DEBUG, SEER_LOG_INFO, SEER_LOG_WARN, SEER_LOG_ERROR, SEER_LOG_OFF };

int seer_log_level(void);
void seer_log_set_level(int level);
/* Returns the level for a name such as "warn", or -1 if the name is not a level. */
int seer_log_parse_level(const char *name);
const char *seer_log_level_name(int level);
void seer_log(int level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
