---@meta seer.json
--- seer.json: JSON encoding and decoding that keeps each object's key order (see "Key order" in
--- the README). `json.null` stands for JSON null. Written in C (lua/l_json.c).
local M = {}

--- Encode a value as JSON. Objects are written in their recorded key order, or sorted when they
--- have none; integers stay integers and floats keep their shortest exact form.
---@param value any
---@param opts table? {indent = integer, sort_keys = boolean}
---@return string
function M.encode(value, opts) end

--- Decode a JSON text, recording each object's key order; raises "json.decode: <reason> at line L
--- column C" on bad input.
---@param text string
---@return any
function M.decode(text) end

--- Mark a table as a JSON array (so an empty one encodes as []).
---@param t table?
---@return table
function M.array(t) end

--- Mark a table as a JSON object. `keys` sets the order its keys are written in; keys assigned
--- later are written after them, in assignment order.
---@param t table?
---@param keys string[]?
---@return table
function M.object(t, keys) end

--- An object with the given keys in the given order: ordered{ {k1, v1}, {k2, v2} }.
---@param pairs table[] {key, value} pairs
---@return table
function M.ordered(pairs) end

--- The keys of a table in the order encode writes them.
---@param t table
---@return string[]
function M.keys(t) end

return M
