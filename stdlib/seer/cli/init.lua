--- seer.cli: the one flag parser behind every `seer-lua <command>` (serve, mcp, model, kernel,
--- transcript, doc). A command declares its options once; the parser accepts `--name VALUE`,
--- `--name=VALUE`, short aliases (`-o VALUE`), `-h`/`--help` anywhere, and `--` before positional
--- arguments that start with a dash, and reports the first problem in one sentence.
local M = {}

--- Parse a subcommand's arguments.
--- `spec.options` maps each long option name (without dashes) to its kind: "flag" (no value,
--- true when present), "value" (the last one given wins) or "list" (every value, in order).
--- `spec.short` maps one-letter aliases to long names (`{ o = "out" }`). `spec.positional` names
--- the positional arguments in order; more than that is an error (`spec.extra` says why, e.g.
--- "one interface file per server"), fewer is the command's to judge. Option names come back with
--- dashes as underscores (`--max-frame` -> `max_frame`), positionals under their names, and
--- `help = true` when -h or --help was given (which never fails: a command answers it first).
---@param args string[] the arguments after the subcommand's name
---@param spec table {options =, short =, positional =, extra =} as above
---@return table? opts
---@return string? err e.g. "--out needs a value", "unknown option '--x'"
function M.parse(args, spec)
  local options, short, names = spec.options or {}, spec.short or {}, spec.positional or {}
  local o, npos, err = {}, 0, nil
  local function set(name, value)
    local kind, key = options[name], name:gsub("-", "_")
    if kind == "list" then
      o[key] = o[key] or {}
      o[key][#o[key] + 1] = value
    else
      o[key] = value
    end
  end
  local i, options_done = 1, false
  while i <= #args do
    local a = args[i]
    local name, value
    if not options_done and (a == "-h" or a == "--help") then
      o.help = true
    elseif not options_done and a == "--" then
      options_done = true
    elseif not options_done and a:sub(1, 2) == "--" then
      name, value = a:match("^%-%-([^=]+)=(.*)$")
      name = name or a:sub(3)
    elseif not options_done and #a == 2 and a:sub(1, 1) == "-" and short[a:sub(2)] then
      name = short[a:sub(2)]
    elseif not options_done and a:sub(1, 1) == "-" and a ~= "-" then
      err = err or ("unknown option '%s'"):format(a)
    elseif npos < #names then
      npos = npos + 1
      o[names[npos]] = a
    else
      err = err or ("unexpected argument '%s'%s"):format(a, spec.extra and (" (" .. spec.extra .. ")") or "")
    end
    if name then
      local kind = options[name]
      if not kind then
        err = err or ("unknown option '%s'"):format(a)
      elseif kind == "flag" then
        if value ~= nil then err = err or ("--%s takes no value"):format(name) end
        set(name, true)
      else
        if value == nil then
          value = args[i + 1]
          if value == nil then err = err or ("--%s needs a value"):format(name) end
          i = i + 1
        end
        if value ~= nil then set(name, value) end
      end
    end
    i = i + 1
  end
  if err and not o.help then return nil, err end
  return o
end

--- Print `msg` and the usage to stderr as `prog: msg`, and return `status` (default 2, the usual
--- status for a usage error), so that a command can `return cli.usage_error(...)`.
---@param prog string e.g. "seer-lua serve"
---@param msg string
---@param usage? string
---@param status? integer
---@return integer
function M.usage_error(prog, msg, usage, status)
  io.stderr:write(prog, ": ", msg, "\n", usage or "")
  io.stderr:flush()
  return status or 2
end

return M
