/* l_cuda.c: the `seer._cuda` module: what this build and machine offer for device = "cuda"
 * (a thin binding of seer/cuda.h; policy and wording for users live in stdlib/seer/cuda.lua). */
#include "bindings.h"
#include "seer/cuda.h"

static const char *const state_names[] = {
    [SEER_CUDA_READY] = "ready",
    [SEER_CUDA_NO_LIBRARY] = "no_library",
    [SEER_CUDA_NOT_A_DRIVER] = "not_a_driver",
    [SEER_CUDA_STUB_LIBRARY] = "stub_library",
    [SEER_CUDA_OLD_DRIVER] = "old_driver",
    [SEER_CUDA_MISSING_SYMBOL] = "missing_symbol",
    [SEER_CUDA_INIT_FAILED] = "init_failed",
    [SEER_CUDA_NO_DEVICE] = "no_device",
    [SEER_CUDA_NO_KERNELS] = "no_kernels",
    [SEER_CUDA_BAD_DEVICE_INDEX] = "bad_device_index",
};

/* status([device_index [, library]]) -> table */
static int cuda_status(lua_State *L) {
  int index = (int)luaL_optinteger(L, 1, 0);
  const char *lib = luaL_optstring(L, 2, NULL);
  seer_cuda_status st;
  seer_cuda_state s = seer_cuda_probe(lib, index, &st);
  lua_createtable(L, 0, 12);
  lua_pushstring(L, state_names[s]);
  lua_setfield(L, -2, "state");
  lua_pushboolean(L, s == SEER_CUDA_READY);
  lua_setfield(L, -2, "ready");
  lua_pushstring(L, st.message);
  lua_setfield(L, -2, "message");
  lua_pushinteger(L, st.driver_version);
  lua_setfield(L, -2, "driver_version");
  lua_pushinteger(L, st.device_count);
  lua_setfield(L, -2, "device_count");
  if (st.device_name[0]) {
    lua_pushstring(L, st.device_name);
    lua_setfield(L, -2, "device_name");
    lua_pushfstring(L, "%d.%d", st.cc_major, st.cc_minor);
    lua_setfield(L, -2, "compute_capability");
    lua_pushnumber(L, (lua_Number)st.total_mem);
    lua_setfield(L, -2, "total_mem");
  }
  const char *arches = seer_cuda_kernel_arches();
  if (arches) {
    lua_pushstring(L, arches);
    lua_setfield(L, -2, "kernels");
  }
  lua_pushinteger(L, seer_cuda_build_version());
  lua_setfield(L, -2, "build_version");
  char lt[512];
  lua_pushboolean(L, seer_cuda_cublaslt_describe(lt, sizeof lt));
  lua_setfield(L, -2, "cublaslt_ready");
  lua_pushstring(L, lt);
  lua_setfield(L, -2, "cublaslt");
  return 1;
}

/* library_path([library]) -> path | nil, err: where the driver library is (for GPU sandboxes). */
static int cuda_library_path(lua_State *L) {
  const char *lib = luaL_optstring(L, 1, NULL);
  char path[4096], why[600];
  if (seer_cuda_library_path(lib, path, sizeof path, why, sizeof why) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, why);
    return 2;
  }
  lua_pushstring(L, path);
  return 1;
}

int luaopen_seer__cuda(lua_State *L) {
  static const luaL_Reg fns[] = {
      {"status", cuda_status}, {"library_path", cuda_library_path}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
