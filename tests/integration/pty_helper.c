/* pty_helper: drives an interactive program through a pseudo-terminal, the way a person at a
 * terminal would, so REPL behaviour (line editing, Ctrl-C, Ctrl-D) is tested for real.
 *
 * usage: pty_helper STEPS_FILE PROGRAM [ARGS...]
 * Each step line is one of:
 *   send TEXT       type TEXT and Enter
 *   type TEXT       type TEXT without Enter
 *   ctrl-c | ctrl-d | up | tab   send that key
 *   expect TEXT     wait (up to 10 s) until TEXT appears in output after the previous match
 *   sleep SECONDS
 *   exit CODE [S]   wait (up to S seconds, default 10) for the program to exit with CODE
 * On failure it prints the step and the whole transcript, and exits 1. */
#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char transcript[1 << 20];
static size_t tlen, matched_upto;
static int master;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void pump(double seconds) {
  double end = now() + seconds;
  for (;;) {
    double left = end - now();
    if (left < 0) left = 0;
    struct pollfd p = {master, POLLIN, 0};
    int r = poll(&p, 1, (int)(left * 1000));
    if (r > 0) {
      ssize_t n = read(master, transcript + tlen, sizeof transcript - tlen - 1);
      if (n > 0) {
        tlen += (size_t)n;
        transcript[tlen] = '\0';
      } else {
        return; /* EOF or EIO: the program closed the terminal */
      }
    }
    if (left <= 0) return;
  }
}

static int expect(const char *text) {
  double end = now() + 10;
  while (now() < end) {
    char *hit = strstr(transcript + matched_upto, text);
    if (hit) {
      matched_upto = (size_t)(hit - transcript) + strlen(text);
      return 1;
    }
    pump(0.05);
  }
  return 0;
}

static void fail(const char *step, pid_t child) {
  fprintf(stderr, "pty_helper: step failed: %s\n---- transcript ----\n%s\n--------------------\n",
          step, transcript);
  kill(child, SIGKILL);
  exit(1);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: pty_helper STEPS_FILE PROGRAM [ARGS...]\n");
    return 2;
  }
  FILE *steps = fopen(argv[1], "r");
  if (!steps) {
    perror(argv[1]);
    return 2;
  }
  struct winsize ws = {24, 100, 0, 0};
  pid_t child = forkpty(&master, NULL, NULL, &ws);
  if (child < 0) {
    perror("forkpty");
    return 2;
  }
  if (child == 0) {
    execvp(argv[2], argv + 2);
    perror("execvp");
    _exit(127);
  }
  char line[4096];
  while (fgets(line, sizeof line, steps)) {
    line[strcspn(line, "\n")] = '\0';
    if (!*line || line[0] == '#') continue;
    char *arg = strchr(line, ' ');
    arg = arg ? arg + 1 : line + strlen(line);
    pump(0.01);
    if (strncmp(line, "send ", 5) == 0 || strcmp(line, "send") == 0) {
      if (write(master, arg, strlen(arg)) < 0 || write(master, "\r", 1) < 0) fail(line, child);
    } else if (strncmp(line, "type ", 5) == 0) {
      if (write(master, arg, strlen(arg)) < 0) fail(line, child);
    } else if (strcmp(line, "ctrl-c") == 0) {
      if (write(master, "\x03", 1) < 0) fail(line, child);
    } else if (strcmp(line, "up") == 0) {
      if (write(master, "\x1b[A", 3) < 0) fail(line, child);
    } else if (strcmp(line, "tab") == 0) {
      if (write(master, "\t", 1) < 0) fail(line, child);
    } else if (strcmp(line, "ctrl-d") == 0) {
      if (write(master, "\x04", 1) < 0) fail(line, child);
    } else if (strncmp(line, "expect ", 7) == 0) {
      if (!expect(arg)) fail(line, child);
    } else if (strncmp(line, "sleep ", 6) == 0) {
      pump(atof(arg));
    } else if (strncmp(line, "exit ", 5) == 0) {
      int want = atoi(arg), status = 0;
      const char *limit = strchr(arg, ' ');
      double end = now() + (limit ? atof(limit + 1) : 10);
      pid_t r = 0;
      while (now() < end && (r = waitpid(child, &status, WNOHANG)) == 0)
        pump(0.05);
      if (r != child || !WIFEXITED(status) || WEXITSTATUS(status) != want) fail(line, child);
      printf("%s\n---- transcript ----\n%s\n", "pty_helper: all steps passed", transcript);
      return 0;
    } else {
      fprintf(stderr, "pty_helper: unknown step '%s'\n", line);
      return 2;
    }
  }
  kill(child, SIGKILL);
  printf("pty_helper: all steps passed (program killed at the end)\n");
  return 0;
}
