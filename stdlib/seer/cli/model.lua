--- seer-lua model: pull, ls, info and rm for models in the Hugging Face cache (seer.hub), and
--- create-random (random-weight models for benchmarks and demos).
local cli = require "seer.cli"
local model = require "seer.model"
local fs = require "seer.fs"
local json = require "seer.json"
local path = require "seer.path"
local hub = require "seer.hub"

local M = {}

local USAGE = [[
usage: seer-lua model <command> [args]
  pull ID [--revision R] [--include PATTERN]...
                               download a hub model into the Hugging Face cache (default
                               files: *.json, *.safetensors, tokenizer*)
  ls                           cached models, with their sizes and revisions
  info ID|DIR                  architecture, layers, hidden size, dtype, parameters and files
  rm ID                        remove a model (all its revisions) from the cache
  create-random --config FILE --out DIR [--dtype bf16|f16|f32] [--seed N]
                               write a seeded random-weight model for a config.json
The cache is $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub; HF_ENDPOINT,
HF_TOKEN and HF_HUB_OFFLINE are honoured as by huggingface_hub. Each command answers --help.
]]

local function fail(msg)
  io.stderr:write("seer-lua model: ", msg, "\n")
  return 2
end

-- Each command's arguments after its name; a command answers --help first.
local function parse(args, spec)
  local rest = {}
  for i = 2, #args do rest[#rest + 1] = args[i] end
  return cli.parse(rest, spec)
end

local function create_random(args)
  local f, err = parse(args, { options = { config = "value", out = "value", dtype = "value", seed = "value" } })
  if not f then return fail(err .. "\n" .. USAGE) end
  if f.help then io.write(USAGE) return 0 end
  if not f.config or not f.out then return fail("create-random needs --config FILE and --out DIR\n" .. USAGE) end
  local dtype = f.dtype or "bf16"
  if dtype ~= "bf16" and dtype ~= "f16" and dtype ~= "f32" then
    return fail("--dtype must be bf16, f16 or f32")
  end
  local seed = tonumber(f.seed or "0")
  if not seed or seed < 0 or seed ~= math.floor(seed) then return fail("--seed must be a non-negative integer") end
  model.create_random(f.config, f.out, { dtype = dtype, seed = seed })
  io.write(("wrote %s (%s, seed %d)\n"):format(f.out, dtype, seed))
  return 0
end

local human = require("seer.hub.progress").human

-- Parameters in the safetensors files of dir, from their headers (the weights are not read).
local function count_params(dir)
  local total = 0
  for _, name in ipairs(fs.list(dir) or {}) do
    if name:match("%.safetensors$") then
      local f = io.open(path.join(dir, name), "rb")
      local head = f and f:read(8)
      local n = nil -- little-endian u64 (no string.unpack in LuaJIT)
      if head and #head == 8 then
        n = 0
        for k = 8, 1, -1 do n = n * 256 + head:byte(k) end
      end
      if not n or n > 100 * 1024 * 1024 then
        if f then f:close() end
        return nil
      end
      local ok, header = pcall(json.decode, f:read(n))
      f:close()
      if not ok or type(header) ~= "table" then return nil end
      for key, t in pairs(header) do
        if key ~= "__metadata__" and type(t) == "table" and type(t.shape) == "table" then
          local numel = 1
          for _, d in ipairs(t.shape) do numel = numel * d end
          total = total + numel
        end
      end
    end
  end
  return total
end

local function list_files(dir, prefix, out)
  for _, name in ipairs(fs.list(dir) or {}) do
    local p = path.join(dir, name)
    if fs.is_dir(p) then list_files(p, prefix .. name .. "/", out)
    else out[#out + 1] = { name = prefix .. name, size = fs.size(p) or 0 } end
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

local function info(args)
  local o, err = parse(args, { positional = { "target" }, extra = "one model at a time" })
  if not o then return fail(err .. "\n" .. USAGE) end
  if o.help then io.write(USAGE) return 0 end
  local target = o.target
  if not target then return fail("info needs a model id or directory\n" .. USAGE) end
  local dir = target
  if not fs.is_dir(target) then
    local found, herr = hub.cached_path(target)
    if not found then return fail(herr .. ("; download it with `seer-lua model pull %s`"):format(target)) end
    dir = found
  end
  local m = model.load(dir)
  local i = m.info
  local counts, order = {}, {}
  for _, t in ipairs(i.layer_types) do
    if not counts[t] then order[#order + 1] = t end
    counts[t] = (counts[t] or 0) + 1
  end
  local kinds = {}
  for _, t in ipairs(order) do kinds[#kinds + 1] = ("%d %s"):format(counts[t], t) end
  local params = count_params(dir)
  local rows = {
    { "path", dir },
    { "architecture", i.architecture .. " (" .. i.model_type .. ")" },
    { "layers", tostring(i.num_layers) },
    { "hidden size", tostring(i.hidden_size) },
    { "intermediate size", tostring(i.intermediate_size) },
    { "heads", ("%d (kv %d, head dim %d)"):format(i.num_heads, i.num_kv_heads, i.head_dim) },
    { "vocab size", tostring(i.vocab_size) },
    { "max positions", tostring(i.max_position_embeddings) },
    { "sliding window", i.sliding_window > 0 and tostring(i.sliding_window) or "none" },
    { "layer types", table.concat(kinds, ", ") },
    { "dtype", i.dtype },
    { "parameters", params and ("%d (%.2fM)"):format(params, params / 1e6) or "unknown" },
    { "weight bytes", ("%d (%s)"):format(i.weight_bytes, human(i.weight_bytes)) },
    { "tokenizer", m.tokenizer and "tokenizer.json" or "none" },
  }
  for _, r in ipairs(rows) do io.write(("%-18s %s\n"):format(r[1], r[2])) end
  io.write("files\n")
  for _, f in ipairs(list_files(dir, "", {})) do io.write(("  %-40s %s\n"):format(f.name, human(f.size))) end
  return 0
end

local function pull(args)
  local o, err = parse(args, { options = { revision = "value", include = "list" }, positional = { "id" },
                               extra = "one model at a time" })
  if not o then return fail(err .. "\n" .. USAGE) end
  if o.help then io.write(USAGE) return 0 end
  local id = o.id
  if not id then return fail("pull needs a model id 'org/name'\n" .. USAGE) end
  local opts = { revision = o.revision, allow_patterns = o.include }
  local ok, snap = pcall(hub.download, id, opts)
  if not ok then
    io.stderr:write("seer-lua model pull: ", tostring(snap), "\n")
    return 1
  end
  io.write(snap, "\n")
  return 0
end

local function ls(args)
  local o, err = parse(args, {})
  if not o then return fail(err .. "\n" .. USAGE) end
  if o.help then io.write(USAGE) return 0 end
  local models = hub.list()
  if not models[1] then
    io.write(("no models in %s\n"):format(hub.cache_dir()))
    return 0
  end
  io.write(("%-40s %10s  %s\n"):format("ID", "SIZE", "REVISIONS"))
  for _, m in ipairs(models) do
    local revs, refs = {}, {}
    for name, commit in pairs(m.revisions) do refs[commit] = (refs[commit] and refs[commit] .. "," or "") .. name end
    for _, commit in ipairs(m.snapshots) do
      revs[#revs + 1] = refs[commit] and (refs[commit] .. "=" .. commit:sub(1, 12)) or commit:sub(1, 12)
    end
    table.sort(revs)
    io.write(("%-40s %10s  %s\n"):format(m.id, human(m.size), table.concat(revs, " ")))
  end
  return 0
end

local function rm(args)
  local o, err = parse(args, { positional = { "id" }, extra = "rm needs one model id" })
  if not o then return fail(err .. "\n" .. USAGE) end
  if o.help then io.write(USAGE) return 0 end
  local id = o.id
  if not id then return fail("rm needs one model id\n" .. USAGE) end
  local ok, freed = pcall(hub.remove, id)
  if not ok then
    io.stderr:write("seer-lua model rm: ", tostring(freed), "\n")
    return 1
  end
  io.write(("removed %s (%s freed)\n"):format(id, human(freed)))
  return 0
end

local COMMANDS = { ["create-random"] = create_random, info = info, pull = pull, ls = ls, rm = rm }

function M.main(args)
  local cmd = args[1]
  if COMMANDS[cmd] then return COMMANDS[cmd](args) end
  if cmd == nil or cmd == "-h" or cmd == "--help" or cmd == "help" then
    io.write(USAGE)
    return cmd == nil and 2 or 0
  end
  return fail(("unknown command '%s'\n"):format(cmd) .. USAGE)
end

return M
