--- seer.kernel.install: writes the kernelspec (kernel.json and logos) that Jupyter front ends
--- (Notebook, JupyterLab, nbclient, VS Code, jupyter console) use to start `seer-lua kernel`.
local json = require "seer.json"
local core = require "seer.core"
local fs = require "seer.fs"

local M = {}

M.NAME = "seer-lua"

-- The logos (an eye), small PNGs generated once and kept here so an installed binary has them.
local LOGOS = {
  ["logo-32x32.png"] = ""
    .. "iVBORw0KGgoAAAANSUhEUgAAACAAAAAgCAYAAABzenr0AAAAhElEQVR42mNgGAWjYBSQAURENP5jw3Sz9MOXH1gxTRxDyFJCjqHY"
    .. "clwWMFTuR8H4HEJTi6nuEEosp9gR1LCcbEcQSlTYLIEnNBIcADePWpZT7AhishQhy3E5giizB9wBAx4FgyIRDopsOCgKokFRFA+K"
    .. "ymjQVMeDokEyaJpko2AUDFsAALPU75EeIycmAAAAAElFTkSuQmCC",
  ["logo-64x64.png"] = ""
    .. "iVBORw0KGgoAAAANSUhEUgAAAEAAAABACAYAAACqaXHeAAAA5UlEQVR42u2aywmFMBAAU4RF2KLV2ZIHD94UPAgi6Mas2Y07A7ln"
    .. "Bt4zv5QAAAAAAAAq0HX9ejfCCf8yiERsmpfT+EUMiWjuaCKEtrQ0RhhxlyEsxO9CmMjnTjgNo2i8DdG8uOsQteVdRbAQ1whhJu8h"
    .. "gEoEL/ImEbzJV41Q8m2WilwWMx8GOObmQf5xw2MZoXRlViovjVA8zy/kWwpwiaC1NteQl0RQm6+mfIsB9jmHDxD+J8CfIJ9BFkIs"
    .. "hdkMsR3mQIQjMQ5FORbnYoSrMS5HuR7ngQRPZHgkxTM5AAAAAAAIwAbiWqGCkbCdpwAAAABJRU5ErkJggg==",
}

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function unbase64(s)
  local map = {}
  for i = 1, 64 do map[B64:sub(i, i)] = i - 1 end
  local out, bits, nbits = {}, 0, 0
  for c in s:gmatch("[^=]") do
    bits = bits * 64 + map[c]
    nbits = nbits + 6
    if nbits >= 8 then
      nbits = nbits - 8
      local b = math.floor(bits / 2 ^ nbits)
      out[#out + 1] = string.char(b)
      bits = bits - b * 2 ^ nbits
    end
  end
  return table.concat(out)
end

--- The kernelspec's directory for the install options (as `jupyter kernelspec install` picks it).
---@param opts table {user=bool, prefix=string|nil}
---@return string
function M.directory(opts)
  if opts.prefix then return opts.prefix .. "/share/jupyter/kernels/" .. M.NAME end
  if opts.user then
    local data = os.getenv("JUPYTER_DATA_DIR")
    if not data or data == "" then
      local xdg = os.getenv("XDG_DATA_HOME")
      data = (xdg and xdg ~= "") and (xdg .. "/jupyter") or ((os.getenv("HOME") or "") .. "/.local/share/jupyter")
    end
    return data .. "/kernels/" .. M.NAME
  end
  return "/usr/local/share/jupyter/kernels/" .. M.NAME
end

--- The kernel.json content.
function M.spec()
  return {
    argv = json.array({ core.exe_path(), "kernel", "-f", "{connection_file}" }),
    display_name = ("seer-lua (%s)"):format(core.lua_flavour == "luajit" and "LuaJIT" or "Lua " .. core.lua_flavour),
    language = "lua",
    interrupt_mode = "signal",
    metadata = { seer_lua_version = core.version },
  }
end

local function write(path, data)
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then return nil, err end
  f:write(data)
  f:close()
  return os.rename(tmp, path)
end

--- Write the kernelspec; returns its directory, or nil, err.
---@param opts table {user=bool, prefix=string|nil}
---@return string|nil dir
---@return string|nil err
function M.install(opts)
  local dir = M.directory(opts)
  local ok, err = fs.mkdir(dir)
  if not ok then return nil, ("cannot create %s: %s"):format(dir, tostring(err)) end
  ok, err = write(dir .. "/kernel.json", json.encode(M.spec(), { indent = 2 }) .. "\n")
  if not ok then return nil, ("cannot write %s/kernel.json: %s"):format(dir, tostring(err)) end
  for name, b64 in pairs(LOGOS) do
    ok, err = write(dir .. "/" .. name, unbase64(b64))
    if not ok then return nil, ("cannot write %s/%s: %s"):format(dir, name, tostring(err)) end
  end
  return dir
end

return M
