--- seer.kernel.message: Jupyter messages (protocol 5.3) on the kernel's sockets: headers with
--- unique ids, the parent header passed through byte for byte, JSON in and out. Signing and the
--- wire format are C (runtime/jupyter); this file only shapes the dictionaries.
local json = require "seer.json"
local core = require "seer.core"
local log = require "seer.log"

local M = {}

M.PROTOCOL_VERSION = "5.3"

local random_hex = core.random_hex
--- 2n hex digits from n random bytes (the kernel's CSPRNG; raises when it gives none).
---@param n integer bytes of randomness, 1 to 1024
---@return string
M.random_hex = random_hex

local function iso_now()
  local t = core.now()
  return os.date("!%Y-%m-%dT%H:%M:%S", os.time()) .. (".%06dZ"):format(math.floor((t % 1) * 1e6))
end

---@class seer.kernel.Session
local Session = {}
Session.__index = Session

--- A message session over an open `seer._jupyter` kernel.
---@param sock userdata the open kernel sockets
---@return seer.kernel.Session
function M.session(sock)
  return setmetatable({ sock = sock, id = random_hex(16), n = 0 }, Session)
end

function Session:header(msg_type)
  self.n = self.n + 1
  return json.encode({
    msg_id = ("%s_%d"):format(self.id, self.n),
    session = self.id,
    username = "kernel",
    date = iso_now(),
    msg_type = msg_type,
    version = M.PROTOCOL_VERSION,
  })
end

--- Send `content` (a table) as `msg_type` on `channel`, in reply to `parent` (a received message,
--- or nil). Replies go back to the parent's routing identities; iopub carries a topic instead.
function Session:send(channel, msg_type, content, parent, metadata)
  local ids
  if channel == "iopub" then
    ids = { "kernel." .. self.id .. "." .. msg_type }
  else
    ids = parent and parent.ids or {}
  end
  local ok, err = self.sock:send(channel, ids, self:header(msg_type), parent and parent.header_raw or "{}",
    metadata and json.encode(metadata) or "{}", json.encode(content))
  if not ok then log.warn("kernel", "could not send %s on %s: %s", msg_type, channel, tostring(err)) end
end

function Session:publish(msg_type, content, parent) return self:send("iopub", msg_type, content, parent) end

function Session:status(state, parent) self:publish("status", { execution_state = state }, parent) end

--- Receive the next message, decoded: {channel, ids, header, header_raw, parent_header, metadata,
--- content, buffers}. Returns nil on timeout; malformed JSON is dropped and logged here.
function Session:recv(timeout_ms)
  local channel, raw = self.sock:recv(timeout_ms)
  if not channel then
    if raw then error("kernel: " .. raw, 0) end
    return nil
  end
  local ok, header = pcall(json.decode, raw.header)
  local ok2, content = pcall(json.decode, raw.content)
  if not ok or not ok2 or type(header) ~= "table" or type(content) ~= "table"
      or type(header.msg_type) ~= "string" then
    log.warn("kernel", "dropped a message on %s: its header or content is not a JSON object", channel)
    self.dropped = (self.dropped or 0) + 1
    return nil
  end
  return {
    channel = channel,
    ids = raw.ids,
    header = header,
    header_raw = raw.header,
    parent_raw = raw.parent_header,
    content = content,
    buffers = raw.buffers,
  }
end

return M
