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
  idle_timeout = true, gzip = true, stream = true, sse = true,
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
function M.parse_headers(raw)
  local headers = {}
  for line in (raw or ""):gmatch("[^\r\n]+") do
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    if name then
      name = name:lower()
      local prev = headers[name]
      headers[name] = prev and (prev .. ", " .. value) or value
    end
  end
  return headers
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
--- `stream = fn(chunk)` or `sse = fn({event, data, id})` to receive a 2xx body as it arrives (other
--- statuses are collected into `body`, so an API's error document can be read). Callbacks run on the
--- loop and must not yield; an error in one aborts the request and is returned as its error.
--- Returns the response for any HTTP status; on a transport failure returns nil, a message and a
--- kind: "timeout", "connect", "network" (reset, cut mid-body), "tls", "invalid" or "aborted".
---@return seer.http.Response|nil, string|nil, string|nil
function M.request(opts)
  if type(opts) ~= "table" then error("seer.http.request: expected an options table", 2) end
  for k in pairs(opts) do if not OPTIONS[k] then option_error(k) end end
  if type(opts.url) ~= "string" then error("seer.http.request: 'url' must be a string", 2) end
  if opts.stream and opts.sse then error("seer.http.request: give 'stream' or 'sse', not both", 2) end
  local user_cb = opts.sse or opts.stream
  if user_cb ~= nil and type(user_cb) ~= "function" then
    error("seer.http.request: 'stream' and 'sse' must be functions", 2)
  end
  local body = opts.body
  if body ~= nil and type(body) ~= "string" then error("seer.http.request: 'body' must be a string", 2) end
  local copts = {
    url = opts.url, method = opts.method, headers = header_list(opts.headers), body = body,
    timeout = opts.timeout, connect_timeout = opts.connect_timeout, idle_timeout = opts.idle_timeout,
    gzip = opts.gzip, mode = opts.sse and "sse" or opts.stream and "stream" or "buffer",
  }
  local status, raw_headers = 0, nil
  local cb_error, handle
  local finished -- {ok, status, body, err, kind, elapsed, headers}
  local wake
  local function on_event(event, a, b, c, d, e, f, g)
    if event == "sse" then
      if cb_error then return end
      local ok, err = pcall(user_cb, { event = a, data = b, id = c })
      if not ok then cb_error = err handle:cancel() wake() end
    elseif event == "data" then
      if cb_error then return end
      local ok, err = pcall(user_cb, a)
      if not ok then cb_error = err handle:cancel() wake() end
    elseif event == "head" then
      status, raw_headers = a, b
    else -- done
      finished = { ok = a, status = b, body = c, err = d, kind = e, elapsed = f, headers = g }
      wake()
    end
  end
  local err
  handle, err = C.request(copts, on_event)
  if not handle then error("seer.http.request: " .. err, 2) end
  task.await(function(done)
    if finished or cb_error then done() return end
    wake = done
    return function() handle:cancel() end
  end)
  local method = opts.method or (body and "POST" or "GET")
  if cb_error then
    return nil, ("seer.http: %s %s: %s callback failed: %s"):format(method, opts.url,
      opts.sse and "sse" or "stream", tostring(cb_error)), "aborted"
  end
  if not finished.ok then
    return nil, ("seer.http: %s %s: %s"):format(method, opts.url, finished.err or finished.kind), finished.kind
  end
  return {
    status = finished.status ~= 0 and finished.status or status,
    headers = M.parse_headers(finished.headers or raw_headers),
    body = finished.body or "",
    elapsed = finished.elapsed,
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
