--- seer.workspace: what a session starts with, as in Seer. A `Workspace` lists libraries (Lua
--- modules the agent can require), skills (SKILL.md folders), local files and init code. `Library`
--- and `Skill` are built from files, directories or a served interface's description.
local fs = require "seer.fs"
local path = require "seer.path"

local M = {}

---@class seer.Library
---@field name string
---@field files table<string, string> relative path -> contents (a module is "<name>.lua")
---@field docs string|nil markdown describing the functions
---@field address string|nil where the served interface behind it listens (unix:PATH); a sandboxed
---  session can reach that address and no other
local Library = {}
Library.__index = Library
Library.__name = "Library"
M.Library = Library

local function check_name(name, what)
  if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
    error(("%s: name '%s' must be a Lua identifier (it is what `require` takes)"):format(what, tostring(name)), 3)
  end
end

function Library.new(fields)
  check_name(fields.name, "Library")
  return setmetatable({ name = fields.name, files = fields.files or {}, docs = fields.docs,
                        description = fields.description, address = fields.address }, Library)
end

--- A single-file module; its name defaults to the file name.
function Library.from_file(file, opts)
  local src, err = fs.read(file)
  if not src then error("Library.from_file: " .. err, 2) end
  local name = (opts and opts.name) or path.basename(file):gsub("%.lua$", "")
  check_name(name, "Library.from_file")
  return Library.new({ name = name, files = { [name .. ".lua"] = src }, docs = opts and opts.docs })
end

local function read_tree(dir, prefix, out)
  for _, entry in ipairs(assert(fs.list(dir))) do
    local p = path.join(dir, entry)
    local rel = prefix == "" and entry or (prefix .. "/" .. entry)
    if fs.is_dir(p) then read_tree(p, rel, out) else out[rel] = assert(fs.read(p)) end
  end
  return out
end

--- A package directory (with init.lua); `require(name)` loads its init.lua.
function Library.from_directory(dir, opts)
  if not fs.is_dir(dir) then error(("Library.from_directory: '%s' is not a directory"):format(dir), 2) end
  local name = (opts and opts.name) or path.basename(dir)
  check_name(name, "Library.from_directory")
  local files = {}
  for rel, data in pairs(read_tree(dir, "", {})) do files[name .. "/" .. rel] = data end
  if not files[name .. "/init.lua"] then
    error(("Library.from_directory: '%s' has no init.lua"):format(dir), 2)
  end
  return Library.new({ name = name, files = files })
end

--- A skill directory's Lua code as a library: its `lib/` folder (or its *.lua files), named after
--- the directory; SKILL.md becomes the docs.
function Library.from_skill_dir(dir, opts)
  if not fs.is_dir(dir) then error(("Library.from_skill_dir: '%s' is not a directory"):format(dir), 2) end
  local name = (opts and opts.name) or path.basename(dir):gsub("[^%w_]", "_")
  local src_dir = fs.is_dir(path.join(dir, "lib")) and path.join(dir, "lib") or dir
  local files = {}
  for rel, data in pairs(read_tree(src_dir, "", {})) do
    if rel:match("%.lua$") then files[name .. "/" .. rel] = data end
  end
  if not files[name .. "/init.lua"] then
    local lua_files = {}
    for rel in pairs(files) do lua_files[#lua_files + 1] = rel end
    if #lua_files ~= 1 then
      error(("Library.from_skill_dir: '%s' has no init.lua, and not exactly one .lua file to use"):format(dir), 2)
    end
    local mod = lua_files[1]:gsub("%.lua$", ""):gsub("/", ".")
    files[name .. "/init.lua"] = ("return require(%q)"):format(mod)
  end
  return Library.new({ name = name, files = files, docs = fs.read(path.join(dir, "SKILL.md")) })
end

--- A module of seer-lua's standard library (e.g. "seer.toolkit") as a library the agent requires
--- by its short name ("toolkit"): the library re-exports the module, which the session's seer-lua
--- has built in, and its docs are the module's DOCS string (or opts.docs).
function Library.from_module(module, opts)
  if type(module) ~= "string" or not module:match("^seer%.[%a_][%w_.]*$") then
    error("Library.from_module: pass a seer module name such as \"seer.toolkit\"", 2)
  end
  local ok, mod = pcall(require, module)
  if not ok then error(("Library.from_module: cannot load %s: %s"):format(module, tostring(mod)), 2) end
  local name = (opts and opts.name) or module:match("([%a_][%w_]*)$")
  check_name(name, "Library.from_module")
  local docs = (opts and opts.docs) or (type(mod) == "table" and mod.DOCS) or nil
  return Library.new({ name = name, files = { [name .. "/init.lua"] = ("return require(%q)\n"):format(module) },
    docs = docs })
end

--- Write the library under `lib_dir` so that `require(name)` finds it there.
function Library:install(lib_dir)
  for rel, data in pairs(self.files) do
    local p = path.join(lib_dir, rel)
    assert(fs.mkdir(path.dirname(p)))
    assert(fs.write(p, data))
  end
end

---@class seer.Skill
local Skill = {}
Skill.__index = Skill
Skill.__name = "Skill"
M.Skill = Skill

--- Skill{name, description, content, files, address}: a SKILL.md with YAML front matter; `address`
--- as for a Library.
function Skill.new(fields)
  if type(fields.name) ~= "string" or not fields.name:match("^[%w_-]+$") then
    error("Skill: 'name' must be letters, digits, '-' or '_'", 2)
  end
  return setmetatable({ name = fields.name, description = fields.description or "",
                        content = fields.content or "", files = fields.files or {}, address = fields.address }, Skill)
end
setmetatable(Skill, { __call = function(_, f) return Skill.new(f) end })

function Skill:markdown()
  local desc = self.description:gsub("\n", " ")
  return ("---\nname: %s\ndescription: %s\n---\n\n%s"):format(self.name, desc, self.content)
end

--- Write <dir>/<name>/SKILL.md (and any extra files); returns the skill's directory.
function Skill:write(dir)
  local d = path.join(dir, self.name)
  assert(fs.mkdir(d))
  assert(fs.write(path.join(d, "SKILL.md"), self:markdown()))
  for rel, data in pairs(self.files) do
    assert(fs.mkdir(path.dirname(path.join(d, rel))))
    assert(fs.write(path.join(d, rel), data))
  end
  return d
end

---@class seer.Workspace
local Workspace = {}
Workspace.__index = Workspace
Workspace.__name = "Workspace"
M.Workspace = Workspace

local WORKSPACE_FIELDS = { libraries = true, skills = true, skill_dirs = true, local_files = true,
                           local_dirs = true, custom_init_code = true }

setmetatable(Workspace, {
  __call = function(_, fields)
    fields = fields or {}
    for k in pairs(fields) do
      if not WORKSPACE_FIELDS[k] then
        error(("Workspace: unknown field '%s' (valid fields: custom_init_code, libraries, local_dirs, "
          .. "local_files, skill_dirs, skills)"):format(tostring(k)), 2)
      end
    end
    local w = setmetatable({}, Workspace)
    for k in pairs(WORKSPACE_FIELDS) do w[k] = fields[k] end
    w.libraries, w.skills, w.skill_dirs = w.libraries or {}, w.skills or {}, w.skill_dirs or {}
    w.local_files, w.local_dirs = w.local_files or {}, w.local_dirs or {}
    for i, lib in ipairs(w.libraries) do
      if getmetatable(lib) ~= Library then error(("Workspace: libraries[%d] is not a Library"):format(i), 2) end
    end
    for i, sk in ipairs(w.skills) do
      if getmetatable(sk) ~= Skill then error(("Workspace: skills[%d] is not a Skill"):format(i), 2) end
    end
    if w.custom_init_code ~= nil and type(w.custom_init_code) ~= "string" then
      error("Workspace: custom_init_code must be a string of Lua code", 2)
    end
    return w
  end,
})

--- Write what a workspace brings into a running sandbox's /workspace: each library's files under
--- `.seer/lib/` (where sessions put package.path), each skill as `.claude/skills/<name>/SKILL.md`
--- with its files, and each skill directory copied under `.claude/skills/`. Notebook and CLI
--- sessions both start this way.
---@param sandbox seer.Sandbox a started sandbox
---@param ws seer.Workspace|table the workspace (or a table with the same fields)
function M.install_in_sandbox(sandbox, ws)
  for _, lib in ipairs(ws.libraries or {}) do
    for rel, data in pairs(lib.files or {}) do sandbox:write_file(".seer/lib/" .. rel, data) end
  end
  for _, skill in ipairs(ws.skills or {}) do
    local base = ".claude/skills/" .. skill.name .. "/"
    sandbox:write_file(base .. "SKILL.md", skill:markdown())
    for rel, data in pairs(skill.files or {}) do sandbox:write_file(base .. rel, data) end
  end
  for _, dir in ipairs(ws.skill_dirs or {}) do sandbox:_copy_dir(dir, ".claude/skills/" .. path.basename(dir)) end
end

return M
