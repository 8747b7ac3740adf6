---@meta
-- luacheck: ignore (a stub: the functions are written in C)
--- seer._jupyter: a Jupyter kernel's ZeroMQ sockets and HMAC signing (lua/l_jupyter.c over
--- runtime/jupyter). The protocol itself is seer.kernel.

---@class seer.jupyter.Kernel
local Kernel = {}

local M = {}

--- Bind the five channels (`client`: connect to a kernel's; `connect`: a kernel that connects to a
--- broker's). Ports 0 are picked (read back with ports()).
---@param cfg table {transport="tcp"|"ipc", ip=, key=, client=, connect=, shell_port=, iopub_port=, stdin_port=, control_port=, hb_port=}
---@return seer.jupyter.Kernel|nil kernel
---@return string|nil err
function M.open(cfg) end

---@class seer.jupyter.Broker
local Broker = {}

--- A broker for a kernel in a sandbox: binds ipc sockets "<front>-1..5" for host clients and
--- "<back>-1..5" for the kernel (`seer-lua kernel --connect`), relaying between them on a thread.
--- Both directories must be 0700 (else nil, err): whoever reaches a socket can talk to the kernel.
---@param front string path prefix in a host-only directory
---@param back string path prefix in the sandbox's private directory (its uid's, read-only inside)
---@return seer.jupyter.Broker|nil broker
---@return string|nil err
function M.broker(front, back) end

--- Stop relaying and close the sockets.
function Broker:close() end

--- HMAC-SHA256 of the concatenated parts, as 64 hex digits ("" with an empty key).
---@param key string
---@param ... string
---@return string
function M.sign(key, ...) end

--- While on, SIGINT (or an interrupt_request) interrupts the calling Lua state and the forward pass.
---@param on boolean
function M.watch_interrupts(on) end

--- Whether a process exists.
---@param pid integer
---@return boolean
function M.process_alive(pid) end

--- The bound ports: {shell=, iopub=, stdin=, control=, hb=}.
---@return table
function Kernel:ports() end

--- The next verified message on shell, control or stdin, or nothing after timeout_ms (-1: wait).
---@param timeout_ms integer?
---@return string|nil channel
---@return table|nil msg {ids, header, parent_header, metadata, content, buffers} (JSON strings)
function Kernel:recv(timeout_ms) end

--- Sign and send a message.
---@param channel "shell"|"iopub"|"stdin"|"control"
---@param ids string[]
---@param header string JSON
---@param parent_header string JSON
---@param metadata string JSON
---@param content string JSON
---@param buffers string[]?
---@return boolean|nil ok
---@return string|nil err
function Kernel:send(channel, ids, header, parent_header, metadata, content, buffers) end

--- Messages dropped so far (malformed, badly signed).
---@return integer
function Kernel:dropped() end

--- Close the sockets and stop the heartbeat and control threads.
function Kernel:close() end

return M
