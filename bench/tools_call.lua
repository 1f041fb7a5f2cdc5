-- wrk script: POST one MCP tools/call (handshake era, stateless): the tool named by TOOL with the
-- JSON object ARGUMENTS; an answer counts only if it is a 200 containing EXPECT. AUTHORIZATION, if
-- set, is sent as the Authorization header.
local tool = os.getenv("TOOL") or "say"
local arguments = os.getenv("ARGUMENTS") or '{"text":"hello"}'
local expect = os.getenv("EXPECT") or '"hello"'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = "2025-11-25"
local authorization = os.getenv("AUTHORIZATION")
if authorization and authorization ~= "" then wrk.headers["Authorization"] = authorization end
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"' .. tool .. '","arguments":' .. arguments .. '}}'

-- Any other answer would make the figures meaningless: count them. Each wrk thread runs its own
-- Lua state and done() runs in yet another, so the count is a global of each thread's state,
-- summed at the end through the thread handles setup() kept.
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) failures = 0 end
function response(status, headers, body)
  if status ~= 200 or not string.find(body, expect, 1, true) then failures = failures + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + (thread:get("failures") or 0) end
  io.write(string.format("failures: %d\n", total))
end
