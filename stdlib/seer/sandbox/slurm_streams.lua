--- seer.sandbox.slurm_streams: byte streams to the sockets a sandbox on a Slurm node listens on in
--- /run/seer, carried over the node's authenticated connection. A notebook sandbox's kernel binds
--- ZeroMQ ipc sockets there; ZeroMQ's protocol (ZMTP) is a byte stream, so relaying the bytes of
--- each connection lets the host's Jupyter clients (seer.kernel.client, the agent's `seer-lua kernel
--- mcp`, a notebook server) connect to a host-side Unix socket as if the kernel ran here. Nothing
--- the sandbox sends is interpreted on the way: the host's ZeroMQ reads it, checking each message's
--- HMAC with the key only the host and the kernel know.
---
--- The node side (handlers stream_open / stream_read / stream_write / stream_close) connects to the
--- socket by name (one path component, never a symlink) and buffers at most MAX_BUFFERED bytes of
--- what the sandbox sends: beyond that it stops reading, and the sandbox waits for the host.
local rpc_c = require "seer._rpc"
local task = require "seer.task"
local log = require "seer.log"

local M = {}

--- Bytes the node holds from the sandbox for one stream before it stops reading it.
M.MAX_BUFFERED = 4 * 1024 * 1024
--- The most one stream_read returns.
local READ_CHUNK = 1024 * 1024
--- Bytes the host lets queue towards its local client before it stops asking the node for more.
local HOST_QUEUE = 4 * 1024 * 1024

local function wake(rec)
  local w = rec.waiter
  if w then
    rec.waiter = nil
    w()
  end
end

local function wait(rec)
  task.await(function(done)
    rec.waiter = done
    return function() if rec.waiter == done then rec.waiter = nil end end
  end)
end

--- Add the stream methods to the node's handlers. `socket_path(name)` checks a socket name and
--- returns its path on the node (raising for a bad name or a symlink).
---@param h table the node's handlers, by method name
---@param socket_path fun(name: string): string
function M.node_handlers(h, socket_path)
  local streams, next_id = {}, 0
  local function stream(id)
    local rec = streams[tonumber(id)]
    if not rec then error(("no stream %s on this node"):format(tostring(id)), 0) end
    return rec
  end

  --- Connect to the sandbox's socket `name`; returns the stream's id.
  function h.stream_open(name)
    local p = socket_path(name)
    local rec = { chunks = {}, buffered = 0, next_seq = 1, held = {} }
    local conn, err = rpc_c.connect("unix:" .. p, function(ev, v)
      if ev == "connect" then
        rec.connected, rec.connect_error = v == nil, v
      elseif ev == "data" then
        rec.chunks[#rec.chunks + 1] = v
        rec.buffered = rec.buffered + #v
        if rec.buffered > M.MAX_BUFFERED and not rec.paused then
          rec.paused = true
          rec.conn:pause(true)
        end
      elseif ev == "close" then
        rec.eof = true
      end
      wake(rec)
    end, nil, true)
    if not conn then error(("cannot connect to '%s': %s"):format(name, err), 0) end
    rec.conn = conn
    while rec.connected == nil and not rec.eof do wait(rec) end
    if not rec.connected then
      error(("cannot connect to '%s': %s"):format(name, tostring(rec.connect_error or "closed")), 0)
    end
    next_id = next_id + 1
    streams[next_id] = rec
    return next_id
  end

  --- Wait until the stream has bytes or has ended; returns {data = bytes, eof = bool}.
  function h.stream_read(id)
    local rec = stream(id)
    while not rec.chunks[1] and not rec.eof do wait(rec) end
    local parts, n = {}, 0
    while rec.chunks[1] and n < READ_CHUNK do
      local c = table.remove(rec.chunks, 1)
      if n + #c > READ_CHUNK then
        table.insert(rec.chunks, 1, c:sub(READ_CHUNK - n + 1))
        c = c:sub(1, READ_CHUNK - n)
      end
      parts[#parts + 1] = c
      n = n + #c
    end
    rec.buffered = rec.buffered - n
    if rec.paused and rec.buffered <= M.MAX_BUFFERED / 2 then
      rec.paused = false
      rec.conn:pause(false)
    end
    local eof = rec.eof and not rec.chunks[1]
    if eof then streams[tonumber(id)] = nil end
    return { data = table.concat(parts), eof = eof }
  end

  --- Bytes for the sandbox's socket. Writes come as notifications, which may be handled out of
  --- order: `seq` (1, 2, ...) puts them back in order.
  function h.stream_write(id, seq, data)
    local rec = streams[tonumber(id)]
    if not rec or type(data) ~= "string" or type(seq) ~= "number" or seq ~= math.floor(seq) then return false end
    rec.held[seq] = data
    while rec.held[rec.next_seq] do
      local d = rec.held[rec.next_seq]
      rec.held[rec.next_seq] = nil
      rec.next_seq = rec.next_seq + 1
      rec.conn:send_raw(d)
    end
    return true
  end

  --- The host's client hung up: close the sandbox side too.
  function h.stream_close(id)
    local rec = streams[tonumber(id)]
    if rec then
      streams[tonumber(id)] = nil
      rec.eof = true
      rec.conn:close()
      wake(rec)
    end
    return true
  end
end

-- One connection of a host client: open the stream on the node, then copy both ways.
local function relay_connection(agent, name, conn)
  local st = { seq = 0 }
  conn:keep_alive(false)
  conn:start(function(ev, v)
    if ev == "data" and st.id then
      st.seq = st.seq + 1
      pcall(agent.notify, agent, "stream_write", st.id, st.seq, v)
    elseif ev == "close" then
      st.closed = true
      if st.id then pcall(agent.notify, agent, "stream_close", st.id) end
    end
  end, nil, false, true)
  conn:pause(true) -- until the node has connected to the sandbox's socket
  task.spawn(function()
    local ok, id = pcall(agent.call, agent, "stream_open", name)
    if not ok then
      -- The socket is not there yet (the kernel is starting): the client connects again.
      log.debug("sandbox", "relay to %s: %s", name, type(id) == "table" and tostring(id.message) or tostring(id))
      conn:close()
      return
    end
    st.id = id
    if st.closed then
      pcall(agent.notify, agent, "stream_close", id)
      return
    end
    conn:pause(false)
    while not st.closed do
      local rok, r = pcall(agent.call, agent, "stream_read", id)
      if not rok then break end
      if r.data ~= "" then conn:send_raw(r.data) end
      if r.eof then break end
      while conn:pending_bytes() > HOST_QUEUE and not st.closed do task.sleep(0.01) end
    end
    conn:close()
  end).name = "slurm-stream:" .. name
end

--- Listen at `host_path` (in a host-only directory) and relay each connection to the sandbox's
--- socket `name` through `agent`, the node's connection. Returns the listener (close() stops it).
function M.host_listen(agent, name, host_path)
  local listener, err = rpc_c.listen("unix:" .. host_path, function(conn) relay_connection(agent, name, conn) end)
  if not listener then error(("cannot relay the sandbox's socket '%s': %s"):format(name, err), 0) end
  listener:keep_alive(false)
  return listener
end

return M
