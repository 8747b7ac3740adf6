/* repl.c: owns the REPL's terminal side: libedit line editing and history (~/.seer_history), the
 * SIGINT policy (abandon the line while reading, interrupt the code while running), and feeding
 * lines to seer.repl, which compiles, runs and pretty-prints them. */
#include <editline/readline.h>
#include <errno.h>
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
                    "debug.getregistry()['seer.repl.reset'] = repl.reset\n",
                    "=repl") != 0) {
    fprintf(stderr, "seer-lua: cannot start the REPL: %s\n", seer_last_error(rt));
    return 1;
  }
  char *hist = NULL;
  if (interactive) {
    rl_catch_signals = 0; /* libedit would re-raise SIGINT to the whole process group */
    rl_readline_name = "seer-lua";
    rl_initialize();
    hist = history_path();
    if (hist) {
      /* libedit's append_history only appends to an existing file. */
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
      if (hist) append_history(1, hist);
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
  /* Scripted use: the exit status says whether any statement failed. */
  return !interactive && any_error ? 1 : 0;
}
