/* cli_main.c: the seer-lua executable's entry point. */
#include "cli.h"

int main(int argc, char **argv) { return seer_cli_main(argc, argv); }
