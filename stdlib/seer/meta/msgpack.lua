---@meta seer.msgpack
--- seer.msgpack: msgpack encoding and decoding over msgpack-c, with ext types (tensors are ext 1)
--- and stream decoding for framing. Written in C (lua/l_msgpack.c).
local M = {}

--- Encode a value as msgpack. Userdata with a `__tomsgpack` metamethod encode as what it returns
--- (usually `msgpack.ext(type, payload)`).
---@param value any
---@return string
function M.encode(value) end

--- Decode a string that holds exactly one msgpack value. Ext values go through
--- `msgpack.ext_decoders[type]` when one is registered.
---@param data string
---@return any
function M.decode(data) end

--- Decode one value starting at byte `pos`: the value and the position after it, or nil and `pos`
--- when the data ends mid-value (read more and try again).
---@param data string
---@param pos integer? default 1
---@return any value
---@return integer next_pos
function M.decode_one(data, pos) end

--- An ext value for `encode`.
---@param type integer the ext type (0..127)
---@param payload string
---@return userdata
function M.ext(type, payload) end

return M
