--- seer-lua doc [--out DIR] [--check]: write the API reference (one Markdown page per module, from
--- the LuaLS doc comments) to DIR (default docs/api), or with --check compare DIR with what would be
--- written and fail when it is stale.
local cli = require "seer.cli"
local fs = require "seer.fs"
local markdown = require "seer.introspect.markdown"

local M = {}

local USAGE = [[
usage: seer-lua doc [--out DIR] [--check]

Writes the API reference, one Markdown page per module, generated from the LuaLS doc comments of
the stdlib (and the ---@meta stubs of the C modules) built into this seer-lua, to DIR (default
docs/api). Files of the reference that no module produces any more are removed.
  --out DIR   where the pages go (default docs/api)
  --check     write nothing; exit 1 listing the pages that differ from DIR, are missing or are
              left over (CI runs this, so docs/api cannot go stale)
  -h, --help  this text
]]

local OPTIONS = { options = { out = "value", check = "flag" }, short = { o = "out" } }

-- The .md files in dir now (the reference owns every .md file there).
local function existing(dir)
  local out = {}
  for _, name in ipairs(fs.list(dir) or {}) do
    if name:match("%.md$") then out[name] = true end
  end
  return out
end

function M.main(args)
  local opts, err = cli.parse(args or {}, OPTIONS)
  if not opts then return cli.usage_error("seer-lua doc", err, USAGE) end
  opts.out = opts.out or "docs/api"
  if opts.help then
    io.write(USAGE)
    return 0
  end
  local pages = markdown.pages()
  local names = {}
  for name in pairs(pages) do names[#names + 1] = name end
  table.sort(names)
  local old = existing(opts.out)
  if opts.check then
    local stale = {}
    for _, name in ipairs(names) do
      local have = fs.read(opts.out .. "/" .. name)
      if have == nil then
        stale[#stale + 1] = name .. " (missing)"
      elseif have ~= pages[name] then
        stale[#stale + 1] = name .. " (differs)"
      end
      old[name] = nil
    end
    local left = {}
    for name in pairs(old) do left[#left + 1] = name end
    table.sort(left)
    for _, name in ipairs(left) do stale[#stale + 1] = name .. " (no module produces it)" end
    if #stale > 0 then
      io.stderr:write(("seer-lua doc: %s is stale:\n  %s\nRegenerate it with `seer-lua doc --out %s` "
        .. "(after building, so the binary has the current stdlib) and commit the result.\n"):format(
        opts.out, table.concat(stale, "\n  "), opts.out))
      return 1
    end
    io.write(("%s is up to date (%d pages)\n"):format(opts.out, #names))
    return 0
  end
  local ok, merr = fs.mkdir(opts.out)
  if not ok then
    io.stderr:write(("seer-lua doc: cannot create %s: %s\n"):format(opts.out, tostring(merr)))
    return 1
  end
  for _, name in ipairs(names) do
    local path = opts.out .. "/" .. name
    if fs.read(path) ~= pages[name] then
      local wok, werr = fs.write(path, pages[name])
      if not wok then
        io.stderr:write(("seer-lua doc: cannot write %s: %s\n"):format(path, tostring(werr)))
        return 1
      end
    end
    old[name] = nil
  end
  for name in pairs(old) do fs.remove(opts.out .. "/" .. name) end
  io.write(("wrote %d pages to %s\n"):format(#names, opts.out))
  return 0
end

return M
