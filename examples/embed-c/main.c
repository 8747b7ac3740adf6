/* embed-c: a C program that embeds seer-lua. It registers a C function, then runs a Lua script that
 * calls it from concurrent tasks (seer.spawn / seer.gather), and reports errors without aborting.
 */
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

int main(int argc, char **argv) {
  seer_runtime *rt = seer_open(NULL);
  if (!rt) return 2;
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
