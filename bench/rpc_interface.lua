-- luacheck: globals expose seer
-- The interface bench/rpc.c serves with `seer-lua serve`: a no-op call, a 1M-element f32 tensor,
-- and the same bytes as an ext 1 value encoded once (the RPC layer alone, without the tensor's
-- own encoding).
local msgpack = seer.msgpack
local ok, tensor = pcall(function() return seer.tensor end)
local big
if ok and tensor and tensor.randn then big = tensor.randn({ 1000000 }, 1, "f32") end
local payload = big and getmetatable(big).__tomsgpack(big)
  or msgpack.ext(1, msgpack.encode({ "f32", { 1000000 }, string.rep("\0\0\128\63", 1000000) }))

--- Does nothing: the round-trip floor of the RPC stack.
function expose.noop() end

--- A 1M-element f32 tensor (4 MB of data), encoded by seer.tensor on every call.
function expose.tensor() return big or payload end

--- The same tensor as an ext 1 value encoded once.
function expose.tensor_preencoded() return payload end
