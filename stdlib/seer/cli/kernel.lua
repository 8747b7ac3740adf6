--- seer-lua kernel -f CONNECTION_FILE | seer-lua kernel install [--user] [--prefix DIR]
--- The first form is what Jupyter runs (kernel.json's argv): serve a kernel on the connection
--- file's endpoints until shutdown. The second writes that kernelspec.
local cli = require "seer.cli"

local M = {}

local USAGE = [[
usage: seer-lua kernel -f CONNECTION_FILE     run a Jupyter kernel (what kernel.json starts)
       seer-lua kernel --connect -f FILE     connect to a broker's endpoints instead of binding
                                             (a notebook sandbox's kernel; seer.sandbox.kernel)
  -f - reads the connection from stdin.
       seer-lua kernel install [--user] [--prefix DIR]
  install writes the kernelspec "seer-lua" (kernel.json, logos) to DIR/share/jupyter/kernels,
  to the user's Jupyter data directory with --user, else to /usr/local/share/jupyter/kernels.
]]

local function fail(msg)
  io.stderr:write("seer-lua kernel: ", msg, "\n")
  return 2
end

local INSTALL = { options = { user = "flag", prefix = "value" } }
local MCP = { options = { connection = "value", notebook = "value", url = "value" } }
local RUN = { options = { f = "value", connect = "flag" }, short = { f = "f" } }
local MCP_USAGE = "usage: seer-lua kernel mcp --connection FILE --notebook PATH [--url URL]\n"

local function install(args)
  local opts, err = cli.parse(args, INSTALL)
  if not opts then return fail(err .. "\n" .. USAGE) end
  if opts.help then
    io.write(USAGE)
    return 0
  end
  local dir, ierr = require("seer.kernel.install").install(opts)
  if not dir then return fail(ierr) end
  io.write("installed kernelspec seer-lua in ", dir, "\n")
  return 0
end

-- seer-lua kernel mcp --connection FILE --notebook PATH [--url URL]: a notebook session's agent tools.
local function mcp(args)
  local o, err = cli.parse(args, MCP)
  if not o then return fail(err .. "\n" .. MCP_USAGE) end
  if o.help then
    io.write(MCP_USAGE)
    return 0
  end
  if not o.connection or not o.notebook then return fail("mcp needs --connection and --notebook") end
  require("seer.session.notebook_mcp").main(o.connection, o.notebook, o.url)
  return 0
end

function M.main(args)
  if args[1] == "mcp" or args[1] == "install" then
    local rest = {}
    for i = 2, #args do rest[#rest + 1] = args[i] end
    return (args[1] == "mcp" and mcp or install)(rest)
  end
  if args[1] == "attach" then
    -- What a notebook session's Jupyter server starts for its kernel (seer.session.jupyter_server).
    require("seer.session.jupyter_server").attach()
    return 0
  end
  local o, err = cli.parse(args, RUN)
  if not o then return fail(err .. "\n" .. USAGE) end
  if o.help then
    io.write(USAGE)
    return 0
  end
  if not o.f then return fail("a connection file is needed (-f FILE)\n" .. USAGE) end
  local kernel = require "seer.kernel"
  local conn, cerr = kernel.read_connection(o.f)
  if not conn then return fail(cerr) end
  conn.connect = o.connect
  kernel.serve(conn)
  return 0
end

return M
