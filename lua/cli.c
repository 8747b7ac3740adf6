/* cli.c: owns the seer-lua command line: lua(1)-style options (-e, -l, -i, -v), running a script
 * with `arg`, subcommands (serve, mcp, model, doctor, ...) dispatched to seer.cli.<name>, and the
 * exit status (1 after printing an uncaught error with its traceback). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "runtime_internal.h"
#include "seer/version.h"

static const char *const subcommands[] = {"serve",      "mcp", "model",  "doctor",
                                          "transcript", "doc", "kernel", NULL};

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: seer-lua [options] [script [args]]\n"
      "       seer-lua <command> [args]\n"
      "\n"
      "options:\n"
      "  -e code      run code\n"
      "  -l mod       require mod into the global of the same name\n"
      "  -i           enter the REPL after running the script\n"
      "  -v, --version  print the version\n"
      "  -h, --help   print this help\n"
      "  --           stop handling options\n"
      "  -            run stdin as a script\n"
      "\n"
      "commands:\n"
      "  serve interface.lua --listen ADDR   serve an interface over msgpack-RPC\n"
      "  mcp (--connect ADDR | interface.lua) speak MCP over stdio\n"
      "  model pull|ls|info|rm|create-random get, list, inspect, remove and create models\n"
      "  doctor                                check this machine's setup\n"
      "  transcript render FILE                render an agent transcript\n"
      "  doc [--out DIR] [--check]             write (or check) the API reference, docs/api\n"
      "  kernel -f FILE | kernel install       a Jupyter kernel; install its kernelspec\n"
      "\n"
      "With no script and a terminal on stdin, seer-lua starts the REPL; with a pipe on stdin,\n"
      "it evaluates the piped statements line by line. SEER_PATH=<dir> loads the stdlib from\n"
      "<dir> instead of the embedded copy.\n");
}

static int report(seer_runtime *rt, const char *progname) {
  fprintf(stderr, "%s: %s\n", progname, seer_last_error(rt));
  fflush(stderr);
  return 1;
}

static void print_version(void) { printf("seer-lua %s (%s)\n", SEER_VERSION, SEER_LUA_FLAVOUR); }

/* Runs `require("seer.cli.<name>").main(args)` for a subcommand. */
static int run_subcommand(seer_runtime *rt, int argc, char **argv) {
  lua_State *L = seer_lua(rt);
  lua_createtable(L, argc - 2, 0);
  for (int i = 2; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - 1);
  }
  lua_setglobal(L, "_SEER_CLI_ARGS");
  char code[1024];
  snprintf(code, sizeof code,
           "local ok, mod = pcall(require, 'seer.cli.%s')\n"
           "if not ok then\n"
           "  if tostring(mod):find(\"module 'seer.cli.%s' not found\", 1, true) then\n"
           "    error(\"'%s' is not available in this build yet\", 0)\n"
           "  end\n"
           "  error(mod, 0)\n"
           "end\n"
           "local args = _SEER_CLI_ARGS; _SEER_CLI_ARGS = nil\n"
           "local status = mod.main(args)\n"
           "if status and status ~= 0 then os.exit(status, true) end\n",
           argv[1], argv[1], argv[1]);
  if (seer_dostring(rt, code, "=seer-lua") != 0) return report(rt, "seer-lua");
  return 0;
}

int seer_cli_main(int argc, char **argv) {
  if (argc >= 2)
    for (const char *const *c = subcommands; *c; c++)
      if (strcmp(argv[1], *c) == 0) {
        seer_runtime *rt = seer_open(NULL);
        if (!rt) return fprintf(stderr, "seer-lua: out of memory\n"), 1;
        int status = run_subcommand(rt, argc, argv);
        seer_close(rt);
        return status;
      }

  /* First pass: find where the script is, so `arg` can be built before anything runs. */
  int script = 0, interactive = 0, ran_code = 0, i;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      if (i + 1 < argc) script = i + 1;
      break;
    }
    if (strcmp(a, "-") == 0 || a[0] != '-') {
      script = i;
      break;
    }
    if (strcmp(a, "-e") == 0 || strcmp(a, "-l") == 0) {
      if (i + 1 >= argc) {
        fprintf(stderr, "seer-lua: '%s' needs an argument\n", a);
        usage(stderr);
        return 1;
      }
      i++;
    } else if (strcmp(a, "-i") == 0) {
      interactive = 1;
    } else if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
      print_version();
      if (argc == 2) return 0;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "seer-lua: unknown option '%s'\n", a);
      usage(stderr);
      return 1;
    }
  }

  seer_open_opts opts = {.argc = argc, .argv = argv, .script_index = script ? script : 0};
  seer_runtime *rt = seer_open(&opts);
  if (!rt) return fprintf(stderr, "seer-lua: out of memory\n"), 1;
  int status = 0;
  int end = script ? script : argc;
  for (i = 1; i < end && status == 0; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-e") == 0) {
      ran_code = 1;
      if (seer_dostring(rt, argv[++i], "=(command line)") != 0) status = report(rt, "seer-lua");
    } else if (strcmp(a, "-l") == 0) {
      char code[512];
      const char *mod = argv[++i];
      snprintf(code, sizeof code, "_G[(...):gsub('%%.', '_')] = require((...))");
      lua_State *L = seer_lua(rt);
      /* -l a.b sets global a_b, as lua(1) would set a global named after the module. */
      if (luaL_loadbuffer(L, code, strlen(code), "=(command line)") != LUA_OK ||
          (lua_pushstring(L, mod), lua_pcall(L, 1, 0, 0)) != LUA_OK) {
        seer_runtime_set_error(rt, L);
        lua_pop(L, 1);
        status = report(rt, "seer-lua");
      }
    }
  }
  if (status == 0 && script) {
    const char *path = argv[script];
    if (strcmp(path, "-") == 0) {
      status = seer_dofile_args(rt, NULL, argc - script - 1, argv + script + 1) != 0
                   ? report(rt, "seer-lua")
                   : 0;
    } else if (access(path, R_OK) != 0) {
      fprintf(stderr, "seer-lua: cannot open script '%s': no such file or not readable\n", path);
      status = 1;
    } else {
      status = seer_dofile_args(rt, path, argc - script - 1, argv + script + 1) != 0
                   ? report(rt, "seer-lua")
                   : 0;
    }
  }
  if (status == 0 && (interactive || (!script && !ran_code)))
    status = seer_repl_run(rt, isatty(0) && (interactive || !script));
  fflush(stdout);
  seer_close(rt);
  return status;
}
