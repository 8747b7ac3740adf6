/* l_tokenizer.c: the seer.tokenizer C module: Tokenizer userdata over seer_tokenizer_* (load,
 * encode, decode, vocabulary lookups, apply_chat_template with Lua tables as messages). */
#include "bindings.h"
#include "compat.h"
#include "runtime_internal.h"
#include "seer/tokenizer.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define TOKENIZER_MT "seer.Tokenizer"

typedef struct ltok {
  seer_tokenizer *tok;
} ltok;

static seer_tokenizer *check_tok(lua_State *L, int idx) {
  ltok *t = luaL_checkudata(L, idx, TOKENIZER_MT);
  if (!t->tok) luaL_error(L, "tokenizer: use of a freed tokenizer");
  return t->tok;
}

/* opts.key as a boolean, dflt when opts or the key is absent. */
static int opt_bool(lua_State *L, int opts, const char *key, int dflt) {
  if (lua_isnoneornil(L, opts)) return dflt;
  luaL_checktype(L, opts, LUA_TTABLE);
  lua_getfield(L, opts, key);
  int v = lua_isnil(L, -1) ? dflt : lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

static int l_load(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  ltok *t = lua_newuserdata(L, sizeof *t);
  t->tok = NULL;
  luaL_getmetatable(L, TOKENIZER_MT);
  lua_setmetatable(L, -2);
  seer_error err = {0};
  if (seer_tokenizer_load(path, &t->tok, &err)) return luaL_error(L, "tokenizer.load: %s", err.msg);
  return 1;
}

static void push_ids(lua_State *L, const int32_t *ids, size_t n) {
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    seer_pushinteger(L, ids[i]);
    lua_rawseti(L, -2, (int)i + 1);
  }
  seer_push_array_mt(L);
  lua_setmetatable(L, -2);
}

static int encode_to_lua(lua_State *L, seer_tokenizer *tok, const char *s, size_t len, int special,
                         const char *fn) {
  int32_t *ids = NULL;
  size_t n = 0;
  seer_error err = {0};
  if (seer_tokenizer_encode(tok, s, len, special, &ids, &n, &err))
    return luaL_error(L, "tokenizer.%s: %s", fn, err.msg);
  push_ids(L, ids, n);
  free(ids);
  return 1;
}

static int l_encode(lua_State *L) {
  seer_tokenizer *tok = check_tok(L, 1);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  return encode_to_lua(L, tok, s, len, opt_bool(L, 3, "add_special_tokens", 1), "encode");
}

static int l_decode(lua_State *L) {
  seer_tokenizer *tok = check_tok(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  size_t n = seer_rawlen(L, 2);
  int32_t *ids = malloc((n + 1) * sizeof *ids);
  if (!ids) return luaL_error(L, "tokenizer.decode: out of memory");
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, 2, (int)i + 1);
    if (!seer_isinteger(L, -1)) {
      free(ids);
      return luaL_error(L, "tokenizer.decode: ids[%d] is not an integer", (int)i + 1);
    }
    ids[i] = (int32_t)seer_tointeger(L, -1);
    lua_pop(L, 1);
  }
  seer_buf out = SEER_BUF_INIT;
  seer_error err = {0};
  int rc = seer_tokenizer_decode(tok, ids, n, opt_bool(L, 3, "skip_special_tokens", 0), &out, &err);
  free(ids);
  if (rc) {
    seer_buf_free(&out);
    return luaL_error(L, "tokenizer.decode: %s", err.msg);
  }
  lua_pushlstring(L, out.data ? out.data : "", out.len);
  seer_buf_free(&out);
  return 1;
}

static int l_token_to_id(lua_State *L) {
  seer_tokenizer *tok = check_tok(L, 1);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  int32_t id = seer_tokenizer_token_to_id(tok, s, len);
  if (id < 0)
    lua_pushnil(L);
  else
    seer_pushinteger(L, id);
  return 1;
}

static int l_id_to_token(lua_State *L) {
  seer_tokenizer *tok = check_tok(L, 1);
  if (!seer_isinteger(L, 2)) return luaL_argerror(L, 2, "tokenizer.id_to_token: integer id");
  long long id = seer_tointeger(L, 2);
  size_t len;
  const char *s =
      id < 0 || id > INT32_MAX ? NULL : seer_tokenizer_id_to_token(tok, (int32_t)id, &len);
  if (s)
    lua_pushlstring(L, s, len);
  else
    lua_pushnil(L);
  return 1;
}

static int l_apply_chat_template(lua_State *L) {
  seer_tokenizer *tok = check_tok(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  int has_opts = !lua_isnoneornil(L, 3);
  if (has_opts) luaL_checktype(L, 3, LUA_TTABLE);
  const char *why = NULL;
  json_t *messages = seer_lua_to_json(L, 2, 0, &why);
  if (!messages || !json_is_array(messages)) {
    json_decref(messages);
    return luaL_error(L, "tokenizer.apply_chat_template: messages %s",
                      why ? why : "must be an array of {role=..., content=...}");
  }
  seer_chat_options o = {opt_bool(L, 3, "add_generation_prompt", 0), NULL, NULL, NULL};
  int tokenize = opt_bool(L, 3, "tokenize", 0);
  json_t *tools = NULL, *extra = json_object();
  if (has_opts) {
    /* Every option except the ones consumed here becomes a template variable (enable_thinking,
     * date_string, ...), as transformers passes **kwargs to the template. */
    lua_pushnil(L);
    while (lua_next(L, 3)) {
      const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
      if (k && !strcmp(k, "chat_template")) {
        /* A template to use instead of the tokenizer's, as transformers' chat_template=. */
        if (lua_type(L, -1) != LUA_TSTRING) {
          lua_pop(L, 2);
          json_decref(messages);
          json_decref(extra);
          json_decref(tools);
          return luaL_error(L, "tokenizer.apply_chat_template: option chat_template must be the "
                               "template's source text");
        }
        o.chat_template = lua_tostring(L, -1); /* opts (arg 3) keeps it alive */
      } else if (k && strcmp(k, "add_generation_prompt") && strcmp(k, "tokenize")) {
        json_t *v = seer_lua_to_json(L, -1, 0, &why);
        if (!v) {
          lua_pop(L, 2);
          json_decref(messages);
          json_decref(extra);
          json_decref(tools);
          return luaL_error(L, "tokenizer.apply_chat_template: option %s: %s", k, why);
        }
        if (!strcmp(k, "tools"))
          tools = v;
        else
          json_object_set_new(extra, k, v);
      }
      lua_pop(L, 1);
    }
  }
  o.tools = tools;
  o.extra = extra;
  seer_buf out = SEER_BUF_INIT;
  seer_error err = {0};
  int rc = seer_tokenizer_apply_chat_template(tok, messages, &o, &out, &err);
  json_decref(messages);
  json_decref(extra);
  json_decref(tools);
  if (rc) {
    seer_buf_free(&out);
    return luaL_error(L, "tokenizer.apply_chat_template: %s", err.msg);
  }
  if (tokenize) {
    /* transformers tokenizes the rendered text without adding special tokens again. */
    int32_t *ids = NULL;
    size_t nids = 0;
    rc = seer_tokenizer_encode(tok, out.data ? out.data : "", out.len, 0, &ids, &nids, &err);
    seer_buf_free(&out);
    if (rc) return luaL_error(L, "tokenizer.apply_chat_template: %s", err.msg);
    push_ids(L, ids, nids);
    free(ids);
    return 1;
  }
  lua_pushlstring(L, out.data ? out.data : "", out.len);
  seer_buf_free(&out);
  return 1;
}

static int l_gc(lua_State *L) {
  ltok *t = luaL_checkudata(L, 1, TOKENIZER_MT);
  seer_tokenizer_free(t->tok);
  t->tok = NULL;
  return 0;
}

static int l_tostring(lua_State *L) {
  seer_tokenizer *tok = check_tok(L, 1);
  lua_pushfstring(L, "Tokenizer(vocab_size=%d)", (int)seer_tokenizer_vocab_size(tok));
  return 1;
}

static void push_opt_string(lua_State *L, const char *s) {
  if (s)
    lua_pushstring(L, s);
  else
    lua_pushnil(L);
}

static void push_opt_id(lua_State *L, int32_t id) {
  if (id >= 0)
    seer_pushinteger(L, id);
  else
    lua_pushnil(L);
}

static const luaL_Reg methods[] = {{"encode", l_encode},
                                   {"decode", l_decode},
                                   {"token_to_id", l_token_to_id},
                                   {"id_to_token", l_id_to_token},
                                   {"apply_chat_template", l_apply_chat_template},
                                   {NULL, NULL}};

/* Fields (vocab_size, bos_token, ...) first, then methods. */
static int l_index(lua_State *L) {
  seer_tokenizer *tok = check_tok(L, 1);
  const char *k = luaL_checkstring(L, 2);
  if (!strcmp(k, "vocab_size"))
    seer_pushinteger(L, (long long)seer_tokenizer_vocab_size(tok));
  else if (!strcmp(k, "bos_token"))
    push_opt_string(L, seer_tokenizer_bos_token(tok));
  else if (!strcmp(k, "eos_token"))
    push_opt_string(L, seer_tokenizer_eos_token(tok));
  else if (!strcmp(k, "bos_token_id"))
    push_opt_id(L, seer_tokenizer_bos_id(tok));
  else if (!strcmp(k, "eos_token_id"))
    push_opt_id(L, seer_tokenizer_eos_id(tok));
  else if (!strcmp(k, "chat_template"))
    push_opt_string(L, seer_tokenizer_chat_template(tok));
  else {
    lua_getmetatable(L, 1);
    lua_getfield(L, -1, "methods");
    lua_getfield(L, -1, k);
  }
  return 1;
}

int luaopen_seer_tokenizer(lua_State *L) {
  if (luaL_newmetatable(L, TOKENIZER_MT)) {
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "methods");
    lua_pushcfunction(L, l_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, l_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushstring(L, "seer.Tokenizer");
    lua_setfield(L, -2, "__name");
  }
  lua_pop(L, 1);
  lua_newtable(L);
  lua_pushcfunction(L, l_load);
  lua_setfield(L, -2, "load");
  return 1;
}
