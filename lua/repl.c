/* repl.c: owns the REPL's terminal side: libedit line editing and history (~/.seer_history), Tab
 * completion of Lua names (answered by seer.repl.complete, i.e. seer.introspect), the SIGINT policy
 * (abandon the line while reading, interrupt the code while running), and feeding lines to
 * seer.repl, which compiles, runs and pretty-prints them. */
#include <editline/readline.h>
#include <errno.h>
#include <histedit.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "runtime_internal.h"
#include "seer/version.h"

static volatile sig_atomic_t got_sigint;
static lua_State *running_state; /* set while code runs, so the handler can hook it */
static seer_runtime *running_rt;

static void interrupt_hook(lua_State *L, lua_Debug *ar) {
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted");
}

static void on_sigint(int sig) {
  got_sigint = 1;
  if (running_state) {
    /* lua_sethook is async-signal-safe; the hook raises at the next instruction. */
    lua_sethook(running_state, interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
    if (running_rt && running_rt->loop) seer_loop_wakeup(running_rt->loop);
  }
}

static void install_sigint(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: a blocking read must return so the line can be abandoned */
  sigaction(SIGINT, &sa, NULL);
}

static char *history_path(void) {
  const char *home = getenv("HOME");
  if (!home || !*home) return NULL;
  size_t n = strlen(home) + 32;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/.seer_history", home);
  return p;
}

/* ---- history ----
 * Each entered line is appended to the history file at once, so a crash loses nothing and two
 * REPLs don't overwrite each other. libedit's append_history(1, f) writes the last *two* entries
 * (an off-by-one in its history_save_fp), which stored every line twice; instead a private
 * one-entry History writes the line, in libedit's own encoding, which read_history reads back. */
static History *line_saver;

static void save_history_line(const char *path, const char *line) {
  HistEvent ev;
  if (!line_saver) {
    line_saver = history_init();
    if (!line_saver) return;
    history(line_saver, &ev, H_SETSIZE, 1);
  }
  history(line_saver, &ev, H_CLEAR);
  if (history(line_saver, &ev, H_ENTER, line) == -1) return;
  FILE *f = fopen(path, "a");
  if (!f) return;
  history(line_saver, &ev, H_SAVE_FP, f);
  fclose(f);
}

/* ---- Tab completion ----
 * libedit asks for completions of the word [start, end) of rl_line_buffer; seer.repl.complete
 * answers for the whole line up to the cursor and returns what replaces that word. */
static seer_runtime *completing_rt;
static char **pending_matches; /* the answer, handed out one by one by next_match */
static size_t pending_count, pending_next;

static char *next_match(const char *text, int state) {
  (void)text;
  if (state == 0) pending_next = 0;
  return pending_next < pending_count ? strdup(pending_matches[pending_next++]) : NULL;
}

static void free_pending(void) {
  for (size_t i = 0; i < pending_count; i++)
    free(pending_matches[i]);
  free(pending_matches);
  pending_matches = NULL;
  pending_count = 0;
}

static char **complete_lua(const char *text, int start, int end) {
  rl_attempted_completion_over = 1; /* never fall back to file names */
  lua_State *L = seer_lua(completing_rt);
  int top = lua_gettop(L);
  free_pending();
  lua_getfield(L, LUA_REGISTRYINDEX, "seer.repl.complete");
  lua_pushstring(L, rl_line_buffer ? rl_line_buffer : "");
  lua_pushinteger(L, start);
  lua_pushinteger(L, end);
  if (lua_pcall(L, 3, 1, 0) != LUA_OK || !lua_istable(L, -1)) {
    lua_settop(L, top);
    return NULL;
  }
  size_t n = seer_rawlen(L, -1);
  pending_matches = calloc(n ? n : 1, sizeof *pending_matches);
  for (size_t i = 0; pending_matches && i < n; i++) {
    lua_rawgeti(L, -1, (int)i + 1);
    const char *m = lua_tostring(L, -1);
    if (m && (pending_matches[pending_count] = strdup(m))) pending_count++;
    lua_pop(L, 1);
  }
  lua_settop(L, top);
  if (pending_count == 0) return NULL;
  return rl_completion_matches(text, next_match);
}

/* Reads one line without the newline; NULL at EOF. *interrupted is set if Ctrl-C cut it short. */
static char *read_line(int interactive, const char *prompt, int *interrupted) {
  *interrupted = 0;
  got_sigint = 0;
  if (interactive) {
    char *line = readline(prompt);
    if (!line && got_sigint) *interrupted = 1;
    return line;
  }
  size_t cap = 0;
  char *line = NULL;
  ssize_t n = getline(&line, &cap, stdin);
  if (n < 0) {
    free(line);
    return NULL;
  }
  if (n > 0 && line[n - 1] == '\n') line[n - 1] = '\0';
  return line;
}

/* Calls seer.repl.feed(line); returns "more", "ok" or "error". */
static const char *feed(seer_runtime *rt, const char *line) {
  lua_State *L = seer_lua(rt);
  lua_getfield(L, LUA_REGISTRYINDEX, "seer.repl.feed");
  lua_pushstring(L, line);
  running_state = L;
  running_rt = rt;
  int rc = lua_pcall(L, 1, 1, 0);
  running_state = NULL;
  lua_sethook(L, NULL, 0, 0);
  static char status[16];
  if (rc != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1) ? lua_tostring(L, -1) : "(error)");
    snprintf(status, sizeof status, "error");
  } else {
    snprintf(status, sizeof status, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "ok");
  }
  lua_pop(L, 1);
  return status;
}

int seer_repl_run(seer_runtime *rt, int interactive) {
  lua_State *L = seer_lua(rt);
  if (seer_dostring(rt,
                    "local repl = require 'seer.repl'\n"
                    "debug.getregistry()['seer.repl.feed'] = repl.feed\n"
                    "debug.getregistry()['seer.repl.reset'] = repl.reset\n"
                    "debug.getregistry()['seer.repl.complete'] = repl.complete_word\n",
                    "=repl") != 0) {
    fprintf(stderr, "seer-lua: cannot start the REPL: %s\n", seer_last_error(rt));
    return 1;
  }
  char *hist = NULL;
  if (interactive) {
    rl_catch_signals = 0; /* libedit would re-raise SIGINT to the whole process group */
    rl_readline_name = "seer-lua";
    rl_initialize();
    completing_rt = rt;
    rl_attempted_completion_function = complete_lua;
    rl_completer_word_break_characters = " \t\n\"\\'`@$><=;|&{}()[],.:+-*/%^~#";
    rl_completion_append_character = '\0';
    hist = history_path();
    if (hist) {
      /* Created private before the first line is appended. */
      int fd = open(hist, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      if (fd >= 0) close(fd);
      read_history(hist);
    }
    stifle_history(2000);
    printf("seer-lua %s (%s) -- Ctrl-D exits, Ctrl-C abandons the line or interrupts\n",
           SEER_VERSION, SEER_LUA_FLAVOUR);
  }
  struct sigaction old;
  sigaction(SIGINT, NULL, &old);
  if (interactive)
    install_sigint();
  else
    signal(SIGINT, SIG_DFL);
  int any_error = 0, more = 0;
  for (;;) {
    int interrupted;
    char *line = read_line(interactive, more ? ">> " : "> ", &interrupted);
    if (!line) {
      if (interrupted) {
        /* Ctrl-C while reading: drop the pending statement and prompt again. */
        printf("^C\n");
        lua_getfield(L, LUA_REGISTRYINDEX, "seer.repl.reset");
        lua_call(L, 0, 0);
        more = 0;
        continue;
      }
      break;
    }
    if (interactive && *line) {
      add_history(line);
      if (hist) save_history_line(hist, line);
    }
    const char *status = feed(rt, line);
    free(line);
    more = strcmp(status, "more") == 0;
    if (strcmp(status, "error") == 0) any_error = 1;
    fflush(stdout);
    fflush(stderr);
  }
  if (interactive) printf("\n");
  sigaction(SIGINT, &old, NULL);
  free(hist);
  free_pending();
  if (line_saver) history_end(line_saver);
  line_saver = NULL;
  /* Scripted use: the exit status says whether any statement failed. */
  return !interactive && any_error ? 1 : 0;
}
