--- seer.session.proxy: how a sandboxed session reaches the interfaces it was given. For each
--- library address the host listens on a socket of its own, in a directory only the host can
--- walk, and relays each call to the interface's server. That socket file is bound into the session
--- sandbox at the library's own address, so the generated library works unchanged inside, and it
--- is the only socket the session can reach: the interface's real socket, the other sandboxes and
--- the host's network stay out of its sight.
local fs = require "seer.fs"
local path = require "seer.path"
local rpc = require "seer.rpc"

local M = {}

-- Connections one session may hold open to one relay: each costs the host a descriptor, and a
-- session that opened thousands could leave the host without any.
M.MAX_CONNECTIONS = 32

local unpack = table.unpack or unpack

---@class seer.session.Proxy
---@field address string the library's address (unix:PATH): what the session connects to
---@field socket string host path of the relay's socket, bound at PATH in the session sandbox
local Proxy = {}
Proxy.__index = Proxy

function Proxy:_upstream()
  -- No call timeout of its own: the caller in the session has one (the library's call_timeout).
  if not self.client or self.client.closed then
    self.client = rpc.connect(self.address, { call_timeout = math.huge })
  end
  return self.client
end

--- Start a relay for `address` with its socket at `socket` (a path in a host-only directory).
function M.start(address, socket)
  local self = setmetatable({ address = address, socket = socket }, Proxy)
  -- The description is answered without a round trip (the server answers describe outside a task).
  local description = self:_upstream():describe()
  self.server = rpc.listen("unix:" .. socket, function(method, args, kwargs)
    local c = self:_upstream()
    if kwargs then return c:call_named(method, kwargs, unpack(args, 1, #args)) end
    return c:call(method, unpack(args, 1, #args))
  end, { describe = function() return description end, keep_alive = false, max_connections = M.MAX_CONNECTIONS })
  -- The session sandbox runs as another uid (as root) than the host: it needs write permission on
  -- the socket. The directory holding it is 0700 and the host's, so nobody else can reach it.
  assert(fs.chmod(socket, 438)) -- 0666
  return self
end

function Proxy:close()
  if self.server then self.server:close() end
  if self.client then self.client:close() end
end

--- The unix path an address names, or nil plus why a sandboxed session cannot use it.
function M.unix_path(address)
  local p = type(address) == "string" and address:match("^unix:(/.+)$")
  if not p then
    return nil, ("'%s' is not a unix: address (a sandboxed session has no network); serve the interface "
      .. "from a sandbox, or use isolation = \"none\" for trusted code"):format(tostring(address))
  end
  if path.normalize(p) ~= p then return nil, ("'%s' is not a normalized path"):format(p) end
  return p
end

return M
