--- seer-lua model: create-random (random-weight models for benchmarks and demos) and info (what a
--- model directory holds). Hub downloads (pull, ls) are not written yet.
local model = require "seer.model"

local M = {}

local USAGE = [[
usage: seer-lua model <command> [args]
  create-random --config FILE --out DIR [--dtype bf16|f16|f32] [--seed N]
                               write a seeded random-weight model for a config.json
  info DIR                     architecture, sizes, dtype, layer types and weight bytes
Each command answers --help.
]]

local function fail(msg)
  io.stderr:write("seer-lua model: ", msg, "\n")
  return 2
end

-- --name value pairs into a table; returns nil, message on a stray argument.
local function parse_flags(args, first, valid)
  local out = {}
  local i = first
  while i <= #args do
    local name = args[i]:match("^%-%-([%w%-]+)$")
    if not name or not valid[name] then return nil, ("unknown argument '%s'"):format(args[i]) end
    if args[i + 1] == nil then return nil, ("--%s needs a value"):format(name) end
    out[name] = args[i + 1]
    i = i + 2
  end
  return out
end

local function wants_help(args)
  return args[2] == "--help" or args[2] == "-h"
end

local function create_random(args)
  if wants_help(args) then io.write(USAGE) return 0 end
  local f, err = parse_flags(args, 2, { config = true, out = true, dtype = true, seed = true })
  if not f then return fail(err .. "\n" .. USAGE) end
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

local function human(bytes)
  local units = { "B", "KB", "MB", "GB", "TB" }
  local i = 1
  while bytes >= 1000 and i < #units do
    bytes = bytes / 1000
    i = i + 1
  end
  return ("%.2f %s"):format(bytes, units[i])
end

local function info(args)
  if wants_help(args) then io.write(USAGE) return 0 end
  local dir = args[2]
  if not dir then return fail("info needs a model directory\n" .. USAGE) end
  local m = model.load(dir)
  local i = m.info
  local counts, order = {}, {}
  for _, t in ipairs(i.layer_types) do
    if not counts[t] then order[#order + 1] = t end
    counts[t] = (counts[t] or 0) + 1
  end
  local kinds = {}
  for _, t in ipairs(order) do kinds[#kinds + 1] = ("%d %s"):format(counts[t], t) end
  local rows = {
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
    { "weight bytes", ("%d (%s)"):format(i.weight_bytes, human(i.weight_bytes)) },
    { "tokenizer", m.tokenizer and "tokenizer.json" or "none" },
  }
  for _, r in ipairs(rows) do io.write(("%-18s %s\n"):format(r[1], r[2])) end
  return 0
end

function M.main(args)
  local cmd = args[1]
  if cmd == "create-random" then return create_random(args) end
  if cmd == "info" then return info(args) end
  if cmd == "pull" or cmd == "ls" then
    return fail(("'%s': hub downloads are not written yet; put the model in the Hugging Face cache "
      .. "(huggingface-cli download ID) or pass a local directory"):format(cmd))
  end
  if cmd == nil or cmd == "-h" or cmd == "--help" or cmd == "help" then
    io.write(USAGE)
    return cmd == nil and 2 or 0
  end
  return fail(("unknown command '%s'\n"):format(cmd) .. USAGE)
end

return M
