--- seer.http: HTTP(S) requests on the runtime's event loop (libcurl multi). A request yields the
--- calling task, so thousands run concurrently on one thread; called outside a task it drives the
--- loop until the response is complete. Bodies can be streamed (`stream = fn(chunk)`) or parsed as
--- Server-Sent Events (`sse = fn(event)`). Proxies come from the environment (http_proxy,
--- https_proxy, no_proxy), as libcurl reads them.
local C = require "seer._http"
local task = require "seer.task"

local M = {}

local OPTIONS = {
  method = true, url = true, headers = true, body = true, timeout = true, connect_timeout = true,
  idle_timeout = true, gzip = true, stream = true, sse = true, sse_json = true, max_body = true,
}

local function option_error(k)
  local names = {}
  for n in pairs(OPTIONS) do names[#names + 1] = n end
  table.sort(names)
  error(("seer.http.request: unknown option '%s' (valid: %s)"):format(tostring(k), table.concat(names, ", ")), 4)
end

-- Headers may be given as a map {["Content-Type"] = "..."} or as a list of "Name: value" lines.
local function header_list(h)
  if h == nil then return nil end
  if type(h) ~= "table" then error("seer.http.request: 'headers' must be a table", 4) end
  local n, count = #h, 0
  for _ in pairs(h) do count = count + 1 end
  if count == n then
    -- A plain list (the common case, e.g. the harness's per-conversation headers): used as it is.
    for i = 1, n do
      if type(h[i]) ~= "string" or not h[i]:find(":", 1, true) then
        error(("seer.http.request: headers[%d] must be a \"Name: value\" string"):format(i), 4)
      end
    end
    return h
  end
  local list = {}
  for i = 1, #h do
    if type(h[i]) ~= "string" or not h[i]:find(":", 1, true) then
      error(("seer.http.request: headers[%d] must be a \"Name: value\" string"):format(i), 4)
    end
    list[#list + 1] = h[i]
  end
  local names = {}
  for k in pairs(h) do
    if type(k) == "string" then names[#names + 1] = k
    elseif type(k) ~= "number" then error("seer.http.request: header names must be strings", 4) end
  end
  table.sort(names)
  for _, k in ipairs(names) do
    local v = h[k]
    if type(v) ~= "string" and type(v) ~= "number" then
      error(("seer.http.request: header '%s' must be a string"):format(k), 4)
    end
    if k:find("[\r\n:]") or tostring(v):find("[\r\n]") then
      error(("seer.http.request: header '%s' contains a line break or colon"):format(k), 4)
    end
    list[#list + 1] = k .. ": " .. tostring(v)
  end
  return list
end

--- Parses a raw response head into a table keyed by lower-case names; repeated headers are joined
--- with ", " (as HTTP allows for list-valued headers).
---@param raw string
---@return table<string, string>
M.parse_headers = C.parse_headers

-- One received chunk's SSE events arrive together, flat, 4 slots each: name, data, data decoded
-- as JSON (sse_json only; nil when it does not parse), id.
local function deliver_sse(cb, list, n)
  for i = 1, n, 4 do cb({ event = list[i], data = list[i + 1], id = list[i + 3] }) end
end
local function deliver_sse_json(cb, list, n)
  for i = 1, n, 4 do cb(list[i], list[i + 2], list[i + 1], list[i + 3]) end
end

---@class seer.http.Response
---@field status integer HTTP status
---@field headers table<string, string> lower-case names
---@field body string the body ("" when it was streamed to `stream`/`sse`)
---@field elapsed number seconds

--- Send a request and wait for the complete response.
--- Options: `url`, `method` (default GET, or POST with a body), `headers` (map or list of
--- "Name: value"), `body` (string), `timeout` (whole request, seconds), `connect_timeout`,
--- `idle_timeout` (no byte for this long aborts), `gzip` (offer compressed transfer),
--- `max_body` (bytes a collected body may hold, default 64 MiB; a larger one fails with kind
--- "too_large" rather than filling memory), `stream = fn(chunk)`, `sse = fn({event, data, id})`
--- or `sse_json = fn(event, value, data, id)`
--- (`value`: the event's data decoded as JSON in C, nil when it is not JSON) to receive a 2xx body
--- as it arrives (other statuses are collected into `body`, so an API's error document can be
--- read). Callbacks run on the loop and must not yield; an error in one aborts the request and is
--- returned as its error.
--- Returns the response for any HTTP status; on a transport failure returns nil, a message and a
--- kind: "timeout", "connect", "network" (reset, cut mid-body), "tls", "invalid", "aborted" or
--- "too_large".
---@return seer.http.Response|nil, string|nil, string|nil
function M.request(opts)
  if type(opts) ~= "table" then error("seer.http.request: expected an options table", 2) end
  for k in pairs(opts) do if not OPTIONS[k] then option_error(k) end end
  if type(opts.url) ~= "string" then error("seer.http.request: 'url' must be a string", 2) end
  local sse, sse_json, stream = opts.sse, opts.sse_json, opts.stream
  if ((sse and 1 or 0) + (sse_json and 1 or 0) + (stream and 1 or 0)) > 1 then
    error("seer.http.request: give one of 'stream', 'sse' and 'sse_json'", 2)
  end
  local user_cb = sse or sse_json or stream
  if user_cb ~= nil and type(user_cb) ~= "function" then
    error("seer.http.request: 'stream', 'sse' and 'sse_json' must be functions", 2)
  end
  local deliver = sse and deliver_sse or deliver_sse_json
  local body = opts.body
  if body ~= nil and type(body) ~= "string" then error("seer.http.request: 'body' must be a string", 2) end
  local copts = {
    url = opts.url, method = opts.method, headers = header_list(opts.headers), body = body,
    timeout = opts.timeout, connect_timeout = opts.connect_timeout, idle_timeout = opts.idle_timeout,
    gzip = opts.gzip, mode = (sse or sse_json) and "sse" or stream and "stream" or "buffer",
    decode = sse_json and true or nil, max_body = opts.max_body,
  }
  local status, raw_headers = 0, nil
  local cb_error, handle
  local done, f_ok, f_status, f_body, f_err, f_kind, f_elapsed, f_headers
  local wake
  local function on_event(event, a, b, c, d, e, f, g)
    if event == "events" then
      if cb_error then return end
      local ok, err = pcall(deliver, user_cb, a, b)
      if not ok then cb_error = err handle:cancel() if wake then wake() end end
    elseif event == "data" then
      if cb_error then return end
      local ok, err = pcall(user_cb, a)
      if not ok then cb_error = err handle:cancel() if wake then wake() end end
    elseif event == "head" then
      status, raw_headers = a, b
    else -- done
      done, f_ok, f_status, f_body, f_err, f_kind, f_elapsed, f_headers = true, a, b, c, d, e, f, g
      if wake then wake() end
    end
  end
  local err
  handle, err = C.request(copts, on_event)
  if not handle then error("seer.http.request: " .. err, 2) end
  task.await(function(resume)
    if done or cb_error then resume() return end
    wake = resume
    return function() handle:cancel() end
  end)
  local method = opts.method or (body and "POST" or "GET")
  if cb_error then
    return nil, ("seer.http: %s %s: %s callback failed: %s"):format(method, opts.url,
      sse and "sse" or sse_json and "sse_json" or "stream", tostring(cb_error)), "aborted"
  end
  if not f_ok then
    return nil, ("seer.http: %s %s: %s"):format(method, opts.url, f_err or f_kind), f_kind
  end
  return {
    status = f_status ~= 0 and f_status or status,
    headers = C.parse_headers(f_headers or raw_headers),
    body = f_body or "",
    elapsed = f_elapsed,
  }
end

--- Shorthands: `seer.http.get(url, opts)`, `seer.http.post(url, body, opts)`.
function M.get(url, opts)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.url, o.method = url, "GET"
  return M.request(o)
end

function M.post(url, body, opts)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.url, o.method, o.body = url, "POST", body
  return M.request(o)
end

--- Number of requests in flight on this runtime.
function M.active() return C.active() end

--- A standalone SSE parser: `p:feed(chunk)` returns the events completed by that chunk.
M.sse_parser = C.sse_parser

return M
