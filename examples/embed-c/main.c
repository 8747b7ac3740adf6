/* embed-c: a C program that embeds seer-lua. It registers a C function, then runs a Lua script that
 * calls it from concurrent tasks (seer.spawn / seer.gather), and reports errors without aborting.
 * With --sandbox it starts a sandbox instead, runs `echo hi` in it, and counts what that started:
 * libseer runs its installed helper (seer-sandbox), never this program again. */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <seer/seer_embed.h>

/* A host function the script calls: returns x * x, computed in C. */
static int host_square(lua_State *L) {
  lua_Number x = luaL_checknumber(L, 1);
  lua_pushnumber(L, x * x);
  return 1;
}

static const char *script =
    "local seer = require 'seer'\n"
    "local results = seer.gather(\n"
    "  function() seer.sleep(0.01); return host_square(3) end,\n"
    "  function() return host_square(4) end,\n"
    "  function() local t = seer.spawn(host_square, 5); return t:wait() end)\n"
    "print(('squares: %g %g %g'):format(results[1], results[2], results[3]))\n"
    "assert(results[1] + results[2] == results[3], 'pythagoras disagrees')\n";

/* Counts, while the sandbox runs, the sandbox inits this process started and the processes running
 * this program's own executable (1: just this one), and the sandbox state directories in $TMPDIR.
 */
static const char *sandbox_script =
    "local environment = require 'seer.environment'\n"
    "local fs = require 'seer.fs'\n"
    "local me = assert(fs.read('/proc/self/stat')):match('^(%d+)')\n"
    "local exe = fs.readlink('/proc/self/exe')\n"
    "local function census()\n"
    "  local inits, copies = 0, 0\n"
    "  for _, pid in ipairs(assert(fs.list('/proc'))) do\n"
    "    local stat, cmd = fs.read('/proc/' .. pid .. '/stat'), fs.read('/proc/' .. pid .. "
    "'/cmdline')\n"
    "    if pid:match('^%d+$') and stat and cmd then\n"
    "      local ppid = stat:match('^%d+ %b() %S+ (%d+)')\n"
    "      if ppid == me and cmd:match('seer%-sandbox%z+init%z') then inits = inits + 1 end\n"
    "      if fs.readlink('/proc/' .. pid .. '/exe') == exe then copies = copies + 1 end\n"
    "    end\n"
    "  end\n"
    "  local dirs = 0\n"
    "  for _, name in ipairs(assert(fs.list(os.getenv('TMPDIR') or '/tmp'))) do\n"
    "    if name:match('^seer%-sandbox%-') then dirs = dirs + 1 end\n"
    "  end\n"
    "  return inits, copies, dirs\n"
    "end\n"
    "local sb = environment.Sandbox({}):start()\n"
    "io.write('sandbox says: ', sb:exec('echo hi'))\n"
    "print(('while running: %d sandbox, %d copies of this program, %d state "
    "dir'):format(census()))\n"
    "sb:terminate()\n"
    "print(('after terminate: %d sandbox, %d copies of this program, %d state dir'):format("
    "census()))\n";

int main(int argc, char **argv) {
  seer_runtime *rt = seer_open(NULL);
  if (!rt) return 2;
  if (argc > 1 && strcmp(argv[1], "--sandbox") == 0) {
    int rc = seer_dostring(rt, sandbox_script, "=embed-sandbox");
    if (rc != 0) fprintf(stderr, "embed-example: %s\n", seer_last_error(rt));
    seer_close(rt);
    return rc == 0 ? 0 : 1;
  }
  seer_register(rt, "host_square", host_square);
  int rc = seer_dostring(rt, script, "=embed-example");
  if (rc != 0) {
    fprintf(stderr, "embed-example: script failed: %s\n", seer_last_error(rt));
    seer_close(rt);
    return 1;
  }
  /* A Lua error comes back as a code plus a message; the host carries on. */
  rc = seer_dostring(rt, "error('deliberate failure')", "=bad-chunk");
  printf("error returned %d: %s\n", rc,
         strstr(seer_last_error(rt), "deliberate failure") ? "deliberate failure"
                                                           : seer_last_error(rt));
  if (argc > 1) {
    rc = seer_dofile(rt, argv[1]);
    if (rc != 0) fprintf(stderr, "embed-example: %s\n", seer_last_error(rt));
  }
  seer_close(rt);
  return rc == 0 || argc <= 1 ? 0 : 1;
}
