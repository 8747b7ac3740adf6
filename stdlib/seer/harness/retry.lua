--- seer.harness.retry: which provider failures are worth retrying, and how long to wait: network
--- errors, a stream cut before its end, and statuses 408, 409, 429, 5xx and 529 are retried with
--- exponential backoff and jitter, honouring `retry-after` (seconds or an HTTP date) and
--- `retry-after-ms` when the server sends them.
local M = {}

local RETRYABLE_STATUS = { [408] = true, [409] = true, [429] = true, [529] = true }

--- True when an HTTP status may succeed on a later attempt.
function M.status_retryable(status)
  return RETRYABLE_STATUS[status] == true or (status >= 500 and status <= 599)
end

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9, Oct = 10,
                 Nov = 11, Dec = 12 }

--- Seconds to wait as the response headers ask, or nil.
function M.retry_after(headers)
  if not headers then return nil end
  local ms = tonumber(headers["retry-after-ms"] or "")
  if ms and ms >= 0 then return ms / 1000 end
  local v = headers["retry-after"]
  if not v then return nil end
  local s = tonumber(v)
  if s then return s >= 0 and s or nil end
  -- An HTTP date: "Wed, 21 Oct 2015 07:28:00 GMT".
  local d, mon, y, h, mi, se = v:match("%a+, (%d+) (%a+) (%d+) (%d+):(%d+):(%d+) GMT")
  if not d or not MONTHS[mon] then return nil end
  local t = os.time({ year = tonumber(y), month = MONTHS[mon], day = tonumber(d), hour = tonumber(h),
                      min = tonumber(mi), sec = tonumber(se), isdst = false })
  local now_utc = os.time(os.date("!*t"))
  local wait = t - now_utc
  return wait > 0 and wait or 0
end

--- Backoff before retry number `attempt` (1-based): base * 2^(attempt-1), capped, with jitter in
--- [half, full] of that so that many agents retrying together spread out.
function M.backoff(attempt, base, cap)
  local d = base * 2 ^ (attempt - 1)
  if d > cap then d = cap end
  return d * (0.5 + 0.5 * math.random())
end

--- The delay for a retry: what the server asked for (bounded by `limit`), else the backoff.
function M.delay(attempt, opts, server_wait)
  if server_wait then return math.min(server_wait, opts.limit or 300) end
  return M.backoff(attempt, opts.base or 1, opts.cap or 30)
end

return M
