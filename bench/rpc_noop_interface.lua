-- luacheck: globals expose
-- The smallest interface: what a sandbox serves for the cold-start and sandbox-socket rows of
-- bench/rpc.c (no model, nothing loaded).

--- Does nothing.
function expose.noop() end
