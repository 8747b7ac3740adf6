-- seer.plot: charts rendered by PLplot's cairo driver as real PNG and SVG documents. The checks read
-- the formats' own structure (PNG signature and IHDR size, SVG root element and size, drawn text),
-- not pixels.
local plot = require "seer.plot"
local tensor = require "seer.tensor"
local fs = require "seer.fs"

local function be32(s, i)
  local a, b, c, d = s:byte(i, i + 3)
  return ((a * 256 + b) * 256 + c) * 256 + d
end

-- The PNG's width and height from its IHDR chunk, after checking the signature.
local function png_size(bytes)
  assert.are.equal("\137PNG\r\n\26\n", bytes:sub(1, 8))
  assert.are.equal("IHDR", bytes:sub(13, 16))
  assert.are.equal("IEND", bytes:sub(-8, -5))
  return be32(bytes, 17), be32(bytes, 21)
end

local function svg_root(text)
  assert.truthy(text:find("^<%?xml"))
  local root = text:match("<svg[^>]*>")
  assert.truthy(root, "no <svg> element")
  return root
end

-- cairo writes text as glyph outlines: the glyphs of a label appear as <symbol>s, one per distinct
-- character, so the number of glyph symbols grows with the text drawn.
local function glyph_count(svg)
  local n = 0
  for _ in svg:gmatch('<symbol overflow="visible" id="glyph') do n = n + 1 end
  return n
end

local function err_of(f, ...)
  local ok, e = pcall(f, ...)
  assert.is_false(ok)
  return tostring(e)
end

describe("seer.plot", function()
  it("draws a line chart as a PNG of the asked size", function()
    local p = plot.line { y = { 0.1, 0.4, 0.35, 0.8, 0.9 }, title = "Probe accuracy by layer", xlabel = "layer",
      ylabel = "accuracy" }
    local w, h = png_size(p:png())
    assert.are.equal(640, w)
    assert.are.equal(480, h)
    local big = plot.line { y = { 1, 2 }, width = 1000, height = 300 }
    w, h = png_size(big:png())
    assert.are.same({ 1000, 300 }, { w, h })
  end)

  it("draws the same chart as an SVG document with its size, paths and text", function()
    local p = plot.line { series = { { y = { 1, 3, 2 }, label = "clean" }, { y = { 2, 2, 1 }, label = "patched" } },
      title = "Logit lens" }
    local svg = p:svg()
    local root = svg_root(svg)
    assert.truthy(root:find('width="640', 1, true))
    assert.truthy(root:find('height="480', 1, true))
    assert.truthy(select(2, svg:gsub("<path", "")) > 10)
    assert.truthy(glyph_count(svg) > 5)
    -- With no title or legend, fewer glyphs are drawn.
    assert.truthy(glyph_count(plot.line { y = { 1, 3, 2 } }:svg()) < glyph_count(svg))
  end)

  it("takes Tensors as data", function()
    local y = tensor.from({ 0.5, 0.25, 0.125 })
    assert.are.equal(640, (png_size(plot.line { y = y }:png())))
    assert.are.equal(640, (png_size(plot.scatter { x = tensor.randn({ 50 }, 1), y = tensor.randn({ 50 }, 2) }:png())))
    local att = tensor.randn({ 6, 6 }, 3):softmax()
    local hm = plot.heatmap { z = att, row_labels = { "<s>", "The", " cat", " sat", " #1", "\n" },
      col_labels = { "<s>", "The", " cat", " sat", " #1", "\n" }, title = "Attention, layer 3 head 2" }
    assert.are.same({ 640, 480 }, { png_size(hm:png()) })
    svg_root(hm:svg())
    local bf = tensor.randn({ 4, 5 }, 4):to("bf16")
    local small = plot.heatmap { z = bf, cmap = "diverging", width = 320, height = 240 }
    assert.are.same({ 320, 240 }, { png_size(small:png()) })
  end)

  it("draws bars, grouped bars and heatmaps from Lua lists", function()
    png_size(plot.bar { values = { 0.91, 0.72, 0.55 }, labels = { "L4", "L8", "L12" }, ylabel = "acc" }:png())
    png_size(plot.bar { series = { { values = { 1, -2, 3 }, label = "a" }, { values = { 2, 1, -1 }, label = "b" } },
      labels = { "first token", "second", "third one" } }:png())
    svg_root(plot.heatmap { z = { { 1, 2, 3 }, { 4, 5, 6 } }, zmin = 0, zmax = 10 }:svg())
    -- Hundreds of long token labels are thinned and shortened, not drawn on top of each other.
    local z, labels = {}, {}
    for i = 1, 300 do labels[i] = ("token number %d with a long tail"):format(i) end
    for r = 1, 3 do
      z[r] = {}
      for c = 1, 300 do z[r][c] = r * c end
    end
    png_size(plot.heatmap { z = z, col_labels = labels, row_labels = { "a", "b", "c" } }:png())
  end)

  it("saves PNG or SVG by extension, and reports a path it cannot write", function()
    local dir = fs.tmpdir()
    local p = plot.scatter { x = { 1, 2, 3 }, y = { 3, 1, 2 } }
    assert.is_true(p:save(dir .. "/a.png"))
    assert.is_true(p:save(dir .. "/a.SVG"))
    png_size(fs.read(dir .. "/a.png"))
    svg_root(fs.read(dir .. "/a.SVG"))
    local ok, err = p:save(dir .. "/no/such/dir/a.png")
    assert.is_nil(ok)
    assert.truthy(err:find("no/such/dir", 1, true))
    assert.truthy(err_of(p.save, p, dir .. "/a.jpg"):find("extension must be .png or .svg", 1, true))
    fs.remove(dir)
  end)

  it("offers the rich display hooks the kernel calls", function()
    local p = plot.bar { values = { 1, 2 } }
    local mt = getmetatable(p)
    assert.are.equal(p:png(), mt.__repr_png(p))
    svg_root(mt.__repr_svg(p))
    assert.are.equal("Plot(bar, 1 series, 640x480)", tostring(p))
  end)

  it("refuses bad data where the chart is made, naming what is wrong", function()
    assert.truthy(err_of(plot.line, { y = { 1, 0 / 0, 2 } }):find("y%[2%] is .*finite"))
    assert.truthy(err_of(plot.line, { y = { 1, "x" } }):find("y[2] is a string, not a number", 1, true))
    assert.truthy(err_of(plot.line, { y = {} }):find("series 1 has no values", 1, true))
    assert.truthy(err_of(plot.line, { y = { 1 }, colour = "red" }):find("unknown option 'colour'", 1, true))
    assert.truthy(err_of(plot.line, { y = { 1 }, width = 10 }):find("outside 64..8192", 1, true))
    assert.truthy(err_of(plot.scatter, { x = { 1, 2 }, y = { 1 } }):find("2 x values and 1 y values", 1, true))
    assert.truthy(err_of(plot.bar, { values = { 1, 2 }, labels = { "a" } }):find("1 labels for 2 bars", 1, true))
    assert.truthy(err_of(plot.heatmap, { z = { { 1, 2 }, { 3 } } }):find("row 2 of z is not a list of 2", 1, true))
    assert.truthy(err_of(plot.heatmap, { z = tensor.zeros({ 3 }) }):find("2-D tensor", 1, true))
    assert.truthy(err_of(plot.heatmap, { z = { { 1 } }, cmap = "jet" }):find("viridis", 1, true))
    assert.truthy(err_of(plot.heatmap, { z = { { 1, 2 } }, row_labels = { "a", "b" } }):find("2 row labels for 1 rows",
      1, true))
    assert.truthy(err_of(plot.line, { y = { 1 }, title = ("x"):rep(600) }):find("longer than 512", 1, true))
    local huge = tensor.zeros({ 2049, 2048 })
    assert.truthy(err_of(plot.heatmap, { z = huge }):find("more than", 1, true))
  end)

  it("says so when PLplot's cairo driver is missing, and never asks for a device on stdin", function()
    local dir = fs.tmpdir()
    local exe = os.getenv("SEER_LUA_BIN") or require("seer.core").exe_path()
    local env = require("seer.core").environ()
    env.PLPLOT_DRV_DIR = dir -- no drivers there
    local r = require("seer.process").run { cmd = exe, env = env, stdin = "extcairo\npngcairo\n", timeout = 60,
      args = { "-e", "local p = require('seer.plot').line{y = {1, 2}}; for _ = 1, 2 do "
        .. "print(select(2, pcall(p.png, p))) end" } }
    fs.remove(dir)
    assert.is_true(r.ok, r.stderr)
    local first, second = r.stdout:match("^([^\n]*)\n([^\n]*)\n$")
    assert.truthy(first and first:find("cairo driver is not available", 1, true), r.stdout)
    assert.are.equal(first, second)
    assert.are.equal("", r.stderr)
  end)

  it("is documented for help() and docs/api", function()
    local introspect = require "seer.introspect"
    assert.truthy(introspect.doc(plot.heatmap).description:find("attention patterns", 1, true))
    local p = plot.line { y = { 1 } }
    assert.are.equal("seer.Plot:save(path) -> true|nil, string?", introspect.doc(p.save).signature)
  end)
end)
