/* Public embedding API: a C program opens a runtime (a Lua state with the seer stdlib and one event
 * loop), registers its own C functions, runs Lua, and reads errors back as codes plus messages. */
#ifndef SEER_EMBED_H
#define SEER_EMBED_H

#include <lua.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct seer_runtime seer_runtime;

typedef struct seer_open_opts {
  int argc; /* fills the global `arg` table as lua(1) does, when argv is set */
  char **argv;
  int script_index;       /* index in argv of the script name (arg[0]); ignored when argv is NULL */
  const char *stdlib_dir; /* load stdlib sources from here instead of the embedded copy; NULL: use
                             $SEER_PATH if set, else the embedded copy */
} seer_open_opts;

/* Returns NULL only when memory runs out. opts may be NULL. */
seer_runtime *seer_open(const seer_open_opts *opts);
/* Run a file or a string, then run the event loop until spawned tasks and I/O have finished.
 * Return 0, or a negative seer error code with the message (and Lua traceback) in seer_last_error.
 */
int seer_dofile(seer_runtime *rt, const char *path);
int seer_dostring(seer_runtime *rt, const char *code, const char *chunkname);
/* Sets the global `name` to a C function. */
int seer_register(seer_runtime *rt, const char *name, lua_CFunction fn);
lua_State *seer_lua(seer_runtime *rt);
const char *seer_last_error(seer_runtime *rt);
/* Kills child processes the runtime started, closes the loop and the Lua state. */
void seer_close(seer_runtime *rt);

#ifdef __cplusplus
}
#endif
#endif
