--- seer.kernel.notebook: an nbformat 4.5 notebook kept in memory and written atomically (a
--- temporary file renamed over the old one) after every change, with the seer-lua kernelspec,
--- language_info, cell ids, outputs and execution counts, so any Jupyter front end can open it.
--- A notebook session has two writers (the host and the agent's MCP process): each change is a
--- read-modify-write under an exclusive lock on `<path>.lock`, so neither loses the other's cells.
local json = require "seer.json"
local fs = require "seer.fs"
local core = require "seer.core"
local message = require "seer.kernel.message"

local M = {}

---@class seer.kernel.Notebook
---@field path string
---@field cells table[]
local Notebook = {}
Notebook.__index = Notebook

-- nbformat stores multi-line text as a list of lines, each keeping its newline.
local function lines(s)
  local out = {}
  for line in tostring(s):gmatch("[^\n]*\n?") do
    if line ~= "" then out[#out + 1] = line end
  end
  return json.array(out)
end

--- A new, empty notebook that will be written at `path`.
---@param path string
---@return seer.kernel.Notebook
function M.new(path)
  return setmetatable({ path = path, cells = {} }, Notebook)
end

local function joined(v)
  if type(v) == "table" then return table.concat(v) end
  return v
end

--- Read the notebook at `path` (another writer may have added cells since); an absent file reads
--- as an empty notebook.
function Notebook:reload()
  local f = io.open(self.path, "rb")
  if not f then return self end
  local text = f:read("a")
  f:close()
  local ok, doc = pcall(json.decode, text)
  if not ok or type(doc) ~= "table" or type(doc.cells) ~= "table" then
    error("notebook: " .. self.path .. " is not a notebook (JSON with cells)", 0)
  end
  local cells = {}
  for i, c in ipairs(doc.cells) do
    local outs = {}
    for j, o in ipairs(c.outputs or {}) do
      if o.text then o.text = joined(o.text) end
      outs[j] = o
    end
    cells[i] = { id = c.id, cell_type = c.cell_type, source = joined(c.source) or "",
                 execution_count = c.execution_count ~= json.null and c.execution_count or nil, outputs = outs }
  end
  self.cells = cells
  return self
end

--- The notebook at `path`, read from the file when it exists.
---@param path string
---@return seer.kernel.Notebook
function M.load(path) return M.new(path):reload() end

function Notebook:document()
  local cells = {}
  for i, c in ipairs(self.cells) do
    local cell = { id = c.id, cell_type = c.cell_type, metadata = json.object({}), source = lines(c.source) }
    if c.cell_type == "code" then
      cell.execution_count = c.execution_count or json.null
      local outs = {}
      for j, o in ipairs(c.outputs or {}) do
        local copy = {}
        for k, v in pairs(o) do copy[k] = v end
        if copy.text then copy.text = lines(copy.text) end
        outs[j] = copy
      end
      cell.outputs = json.array(outs)
    end
    cells[i] = cell
  end
  return {
    nbformat = 4,
    nbformat_minor = 5,
    metadata = {
      kernelspec = { name = "seer-lua", display_name = "seer-lua", language = "lua" },
      language_info = { name = "lua", version = core.lua_version, mimetype = "text/x-lua",
                        file_extension = ".lua", pygments_lexer = "lua", codemirror_mode = "lua" },
    },
    cells = json.array(cells),
  }
end

--- Write the notebook (atomically: readers see the old or the new file, never half of one).
function Notebook:save()
  local tmp = self.path .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then error("notebook: cannot write " .. tmp .. ": " .. tostring(err), 0) end
  f:write(json.encode(self:document(), { indent = 1 }), "\n")
  f:close()
  local ok, rerr = os.rename(tmp, self.path)
  if not ok then error("notebook: cannot replace " .. self.path .. ": " .. tostring(rerr), 0) end
end

-- Runs change(self) on the file's current cells under the lock, then saves.
function Notebook:_update(change)
  local lock, err = fs.lock(self.path .. ".lock")
  if not lock then error("notebook: " .. err, 0) end
  local ok, r = pcall(function()
    self:reload()
    local v = change(self)
    self:save()
    return v
  end)
  lock:unlock()
  if not ok then error(r, 0) end
  return r
end

--- Append a code cell with its result (from seer.kernel.client's execute); returns its index.
function Notebook:add_code(source, result)
  return self:_update(function()
    self.cells[#self.cells + 1] = {
      id = message.random_hex(4), cell_type = "code", source = source,
      execution_count = result and result.execution_count, outputs = result and result.outputs or {},
    }
    return #self.cells
  end)
end

--- Append a markdown cell; returns its index.
function Notebook:add_markdown(source)
  return self:_update(function()
    self.cells[#self.cells + 1] = { id = message.random_hex(4), cell_type = "markdown", source = source }
    return #self.cells
  end)
end

--- Replace cell i's source (and, for code, its result).
function Notebook:edit_cell(i, source, result)
  self:_update(function()
    local c = self.cells[i]
    if not c then error(("notebook: no cell %s (the notebook has %d)"):format(tostring(i), #self.cells), 0) end
    c.source = source
    if c.cell_type == "code" then
      c.execution_count = result and result.execution_count
      c.outputs = result and result.outputs or {}
    end
  end)
end

return M
