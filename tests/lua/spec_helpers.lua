-- Helpers the model-level specs share (model, techniques, toolkit, sae, lora, wrapped_models,
-- tensor): the fixture root, the relative-error measure behind every parity tolerance, JSON and
-- file fixtures, scratch directories. `require "spec_helpers"` (run_busted puts tests/lua on the
-- path).
local luassert = require "luassert"
local json = require "seer.json"
local fs = require "seer.fs"

local M = {}

-- tests/fixtures, or $SEER_FIXTURES where ctest points it.
M.FIXTURES = os.getenv("SEER_FIXTURES") or "tests/fixtures"

-- max |got - ref| / max(1, |ref|) over every element; NaN counts as a failure.
function M.rel_err(got, ref)
  luassert.are.same(ref.shape, got.shape)
  local g, r = got:reshape(-1):totable(), ref:reshape(-1):totable()
  local worst = 0
  for i = 1, #r do
    local d = math.abs(g[i] - r[i]) / math.max(1, math.abs(r[i]))
    if not (d <= worst) then worst = d end -- luacheck: ignore 581 (NaN must count as a failure)
  end
  return worst
end

-- Fails naming `what` when rel_err(got, ref) exceeds tol.
function M.assert_close(got, ref, tol, what)
  local e = M.rel_err(got, ref)
  assert(e <= tol, ("%s: max rel err %.3g > %.3g"):format(what, e, tol))
end

-- max |a - b| over every element.
function M.max_abs_diff(a, b)
  local g, r = a:reshape(-1):totable(), b:reshape(-1):totable()
  local worst = 0
  for i = 1, #r do worst = math.max(worst, math.abs(g[i] - r[i])) end
  return worst
end

function M.read_json(path) return json.decode(assert(fs.read(path))) end

-- A plain array copy of t (e.g. a tensor's shape, to compare with are.same).
function M.list(t)
  local out = {}
  for i = 1, #t do out[i] = t[i] end
  return out
end

-- A fresh empty directory.
function M.tmpdir()
  local p = os.tmpname()
  os.remove(p)
  assert(fs.mkdir(p))
  return p
end

function M.write_file(path, s) assert(fs.write(path, s)) end

function M.copy_file(src, dst) assert(fs.write(dst, assert(fs.read(src)))) end

return M
