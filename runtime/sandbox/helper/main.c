/* seer-sandbox: the sandbox helper executable that libseer runs (see seer/sandbox.h). It is a
 * program of its own, installed with the library, so that any host that embeds libseer can start
 * sandboxes without re-executing itself.
 *   seer-sandbox init SPEC.json                                 start a sandbox
 *   seer-sandbox exec CONTROL CWD NOFILE PIDS CPUS -- CMD ARGS  run a command in a started one
 * Both end with _exit: they live partly inside the sandbox's namespaces, where exit-time hooks
 * (LeakSanitizer's stop-the-world in sanitizer builds) cannot work and would hang. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "seer/sandbox.h"

static const struct {
  const char *name;
  int (*main)(int argc, char **argv);
} modes[] = {{"init", seer_sandbox_init_main}, {"exec", seer_sandbox_exec_main}};

int main(int argc, char **argv) {
  for (size_t i = 0; argc >= 2 && i < sizeof modes / sizeof modes[0]; i++)
    if (strcmp(argv[1], modes[i].name) == 0) {
      int status = modes[i].main(argc - 1, argv + 1);
      fflush(NULL);
      _exit(status);
    }
  fprintf(stderr, "usage: seer-sandbox init SPEC.json\n"
                  "       seer-sandbox exec CONTROL CWD NOFILE PIDS CPUS -- CMD [ARGS...]\n"
                  "(libseer runs this helper; it is not meant to be run by hand)\n");
  return 2;
}
