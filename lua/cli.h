/* cli.h: the seer-lua command line (option parsing, subcommands) and its REPL. */
#ifndef SEER_CLI_H
#define SEER_CLI_H

#include "seer/seer_embed.h"

int seer_cli_main(int argc, char **argv);
/* Reads statements from stdin until EOF; interactive adds line editing, history and prompts.
 * Returns the process exit status. */
int seer_repl_run(seer_runtime *rt, int interactive);

#endif
