/* runtime_internal.h: the per-runtime state the bindings share (the loop, the thread currently
 * driving it) and the helpers every binding uses to find it and to report callback errors. */
#ifndef SEER_RUNTIME_INTERNAL_H
#define SEER_RUNTIME_INTERNAL_H

#include "compat.h"
#include "seer/loop.h"
#include "seer/seer_embed.h"

struct seer_runtime {
  lua_State *L;
  seer_loop *loop;
  lua_State *driving;     /* the thread inside seer_loop_run_once; callbacks run Lua on it */
  int callback_error_ref; /* first error raised by a Lua callback during run_once, re-raised after
                           */
  int closing;            /* set by seer_close: callbacks stop calling into Lua */
  char *last_error;
  char *stdlib_dir;
};

seer_runtime *seer_runtime_from(lua_State *L);
/* seer_dofile, passing argv[0..argc) to the chunk as `...` (the CLI's script arguments). */
int seer_dofile_args(seer_runtime *rt, const char *path, int argc, char **argv);
/* Calls the function at the top of the driving thread's stack with nargs arguments below it
 * (function first), in protected mode; an error is kept and re-raised when run_once returns. */
void seer_runtime_callback(seer_runtime *rt, lua_State *L, int nargs);
/* Installs package.preload entries for the C modules and the stdlib searcher. */
void seer_modules_open(lua_State *L, seer_runtime *rt);
/* Sets rt->last_error from the value at the top of the stack (string, or anything tostring-able).
 */
void seer_runtime_set_error(seer_runtime *rt, lua_State *L);

/* Table kinds shared by the JSON and msgpack codecs. */
enum { SEER_TABLE_OBJECT, SEER_TABLE_ARRAY };
/* Decides whether the table at idx encodes as an array (returning its length in *len) or an object.
 * Empty tables are objects unless marked with the array metatable. */
int seer_table_kind(lua_State *L, int idx, size_t *len);
void seer_push_array_mt(lua_State *L);
void seer_push_object_mt(lua_State *L);
/* Key order, shared by every Lua-to-JSON/msgpack conversion. An object table may carry an order
 * list (json/msgpack decoding records it; assigning a new key to a table with the object
 * metatable appends to it); its keys are written in that order, and keys it does not list follow
 * in sorted order (numbers, then strings bytewise, then booleans). */
/* Pushes an array of the keys of the table at idx in that order; returns how many. */
size_t seer_push_key_order(lua_State *L, int idx);
/* Registers a new, empty order list for the table at idx and pushes it (decoders append keys). */
void seer_key_order_new(lua_State *L, int idx);
/* Gives the table at idx an order list if it has none, listing its current keys sorted. */
void seer_key_order_init(lua_State *L, int idx);
/* Replaces the order list of the table at idx with a copy of the array at keys. */
void seer_key_order_set(lua_State *L, int idx, int keys);
/* The shared null sentinel (a light userdata NULL). */
int seer_is_null(lua_State *L, int idx);
/* Pushes a jansson value as seer.json.decode builds it (null sentinel, array/object markers). */
struct json_t;
void seer_lua_push_json(lua_State *L, struct json_t *v);
/* The Lua value at idx as a new jansson value, objects in the shared key order; NULL with *why
 * set when it has no JSON form. depth starts at 0. */
struct json_t *seer_lua_to_json(lua_State *L, int idx, int depth, const char **why);

#endif
