--- seer.plot: line, scatter, bar and heatmap charts for the everyday interpretability plots (a logit
--- lens across layers, attention patterns over tokens, probe accuracy by layer), drawn by PLplot
--- (its cairo driver) as PNG or SVG. A chart saves to a file (`p:save("lens.png")`) and shows itself
--- in the Jupyter kernel through its `__repr_png` / `__repr_svg` hooks. Data may be Lua lists of
--- numbers or seer Tensors.
local C = require "seer._plot"
local fs = require "seer.fs"

local M = {}

---@class seer.Plot
--- A chart. Rendering happens on demand (`png`, `svg`, `save`), so one chart can be written in
--- both formats.
---@field kind string "line", "scatter", "bar" or "heatmap"
local Plot = {}
Plot.__index = Plot

M.Plot = Plot

--- Default size in pixels (PNG) or points (SVG).
M.WIDTH, M.HEIGHT = 640, 480

local COMMON = { title = true, xlabel = true, ylabel = true, width = true, height = true }
local OPTIONS = {
  line = { x = true, y = true, series = true, label = true, ymin = true, ymax = true },
  scatter = { x = true, y = true, series = true, label = true, ymin = true, ymax = true },
  bar = { values = true, labels = true, series = true, label = true, ymin = true, ymax = true },
  heatmap = { z = true, row_labels = true, col_labels = true, cmap = true, zmin = true, zmax = true },
}

local function check_opts(kind, opts)
  if type(opts) ~= "table" then
    error(("seer.plot.%s: pass an options table, e.g. plot.%s{%s}"):format(kind, kind,
      kind == "heatmap" and "z = matrix" or kind == "bar" and "values = {...}" or "y = {...}"), 3)
  end
  local valid = OPTIONS[kind]
  for k in pairs(opts) do
    if not valid[k] and not COMMON[k] then
      local names = {}
      for n in pairs(valid) do names[#names + 1] = n end
      for n in pairs(COMMON) do names[#names + 1] = n end
      table.sort(names)
      error(("seer.plot.%s: unknown option '%s' (valid: %s)"):format(kind, tostring(k), table.concat(names, ", ")), 3)
    end
  end
end

local function new(kind, opts, spec)
  spec.kind = kind
  for k in pairs(COMMON) do spec[k] = opts[k] end
  spec.width = spec.width or M.WIDTH
  spec.height = spec.height or M.HEIGHT
  local self = setmetatable({ kind = kind, _spec = spec }, Plot)
  -- Checked now, so a bad chart fails where it is made rather than where it is shown.
  C.check(spec)
  return self
end

-- Series from {y = ..., x = ..., label = ...} or {series = {{...}, ...}}.
local function series_of(kind, opts, field)
  if opts.series ~= nil then
    if opts[field] ~= nil then
      error(("seer.plot.%s: pass either %s or series, not both"):format(kind, field), 3)
    end
    if type(opts.series) ~= "table" then error(("seer.plot.%s: series must be a list"):format(kind), 3) end
    local out = {}
    for i, s in ipairs(opts.series) do
      if type(s) ~= "table" then error(("seer.plot.%s: series %d is not a table"):format(kind, i), 3) end
      out[i] = { x = s.x, y = s[field] or s.y, label = s.label }
    end
    return out
  end
  if opts[field] == nil then error(("seer.plot.%s: pass %s (a list of numbers or a Tensor)"):format(kind, field), 3) end
  return { { x = opts.x, y = opts[field], label = opts.label } }
end

--- A line chart: `plot.line{y = accuracy_by_layer, xlabel = "layer", ylabel = "accuracy"}`, or
--- several lines with `series = {{x =, y =, label =}, ...}` (a legend shows the labels). x defaults
--- to 1..n.
---@param opts table {y, x?, label?, series?, title?, xlabel?, ylabel?, ymin?, ymax?, width?, height?}
---@return seer.Plot
function M.line(opts)
  check_opts("line", opts)
  return new("line", opts, { series = series_of("line", opts, "y"), ymin = opts.ymin, ymax = opts.ymax })
end

--- A scatter chart of points (x, y): `plot.scatter{x = pc1, y = pc2}`, or several groups with
--- `series = {{x =, y =, label =}, ...}`.
---@param opts table {x?, y, label?, series?, title?, xlabel?, ylabel?, ymin?, ymax?, width?, height?}
---@return seer.Plot
function M.scatter(opts)
  check_opts("scatter", opts)
  return new("scatter", opts, { series = series_of("scatter", opts, "y"), ymin = opts.ymin, ymax = opts.ymax })
end

--- A bar chart: `plot.bar{values = {0.9, 0.7}, labels = {"probe A", "probe B"}}`, or grouped bars
--- with `series = {{values =, label =}, ...}` (every series the same length).
---@param opts table {values, labels?, label?, series?, title?, xlabel?, ylabel?, ymin?, ymax?, width?, height?}
---@return seer.Plot
function M.bar(opts)
  check_opts("bar", opts)
  return new("bar", opts, { series = series_of("bar", opts, "values"), categories = opts.labels,
    ymin = opts.ymin, ymax = opts.ymax })
end

--- A heatmap of a matrix (a 2-D Tensor or a list of rows), row 1 at the top as a matrix prints:
--- attention patterns (`row_labels`/`col_labels` = the tokens), logit-lens grids (layers x
--- positions). `cmap = "diverging"` (blue-white-red, centred on 0) suits signed values; the default
--- "viridis" suits probabilities. zmin/zmax fix the colour range.
---@param opts table {z, row_labels?, col_labels?, cmap?, zmin?, zmax?, title?, xlabel?, ylabel?, width?, height?}
---@return seer.Plot
function M.heatmap(opts)
  check_opts("heatmap", opts)
  if opts.z == nil then error("seer.plot.heatmap: pass z (a 2-D Tensor or a list of rows)", 2) end
  if opts.cmap ~= nil and opts.cmap ~= "viridis" and opts.cmap ~= "diverging" then
    error(("seer.plot.heatmap: cmap must be \"viridis\" or \"diverging\", got %s"):format(tostring(opts.cmap)), 2)
  end
  return new("heatmap", opts, { z = opts.z, row_labels = opts.row_labels, col_labels = opts.col_labels,
    cmap = opts.cmap, zmin = opts.zmin, zmax = opts.zmax })
end

--- The chart as PNG bytes.
---@return string
function Plot:png() return C.render(self._spec, "png") end

--- The chart as an SVG document.
---@return string
function Plot:svg() return C.render(self._spec, "svg") end

--- Write the chart to a file, PNG or SVG by the path's extension. Returns true, or nil and a
--- message when the file cannot be written.
---@param path string ends in .png or .svg
---@return true|nil ok
---@return string? err
function Plot:save(path)
  if type(path) ~= "string" then error("plot:save: pass a path ending in .png or .svg", 2) end
  local ext = path:match("%.([%a]+)$")
  ext = ext and ext:lower()
  if ext ~= "png" and ext ~= "svg" then
    error(("plot:save: %s: the extension must be .png or .svg"):format(path), 2)
  end
  local ok, err = fs.write(path, C.render(self._spec, ext))
  if not ok then return nil, ("plot:save: %s"):format(tostring(err)) end
  return true
end

--- The kernel's rich display hook: PNG bytes.
---@return string
function Plot:__repr_png() return self:png() end

--- The kernel's rich display hook: SVG text.
---@return string
function Plot:__repr_svg() return self:svg() end

function Plot:__tostring()
  local s = self._spec
  local what = s.kind == "heatmap" and "heatmap" or ("%s, %d series"):format(s.kind, #s.series)
  return ("Plot(%s%s, %dx%d)"):format(what, s.title and (", " .. ("%q"):format(s.title)) or "", s.width, s.height)
end

return M
