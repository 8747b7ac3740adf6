-- GPU sandboxes (SandboxConfig{gpu = ..., gpu_count = n}, seer.sandbox.gpu): on this host's real
-- /dev the missing GPU is a clear error at start(); against a directory of stand-in device nodes and
-- a stand-in driver library (tests/cuda/fake_libcuda.c, $SEER_FAKE_CUDA_DEVICE) the binds run for
-- real in the namespace sandbox and are checked from inside it.
local env = require "seer.environment"
local fs = require "seer.fs"
local gpu = require "seer.sandbox.gpu"
local path = require "seer.path"
local seer = require "seer"

local function run(cmd, args) return seer.process.run({ cmd = cmd, args = args }) end

-- A device directory: character nodes (/dev/null's numbers) when mknod is allowed, else files.
local function fake_dev(names)
  local dir = assert(fs.tmpdir("seer-fake-dev"))
  local nodes = true
  for _, name in ipairs(names) do
    local p = path.join(dir, name)
    if not (nodes and run("mknod", { p, "c", "1", "3" }).ok) then
      nodes = false
      assert(fs.write(p, ""))
    end
  end
  return dir, nodes
end

-- A driver directory outside the sandbox's system binds: the stand-in libcuda.so.1, a library it
-- would load, and an unrelated file that must stay out of the sandbox.
local function fake_driver()
  local fake = os.getenv("SEER_FAKE_CUDA_DEVICE")
  assert(fake and fake ~= "", "SEER_FAKE_CUDA_DEVICE (the fake driver library) is not set")
  local dir = assert(fs.tmpdir("seer-fake-driver"))
  assert(fs.write(path.join(dir, "libcuda.so.590.1"), assert(fs.read(fake))))
  assert(run("ln", { "-s", "libcuda.so.590.1", path.join(dir, "libcuda.so.1") }).ok)
  assert(fs.write(path.join(dir, "libnvidia-ptxjitcompiler.so.1"), "JIT"))
  assert(fs.write(path.join(dir, "unrelated.so"), "NOT-FOR-THE-SANDBOX"))
  return dir
end

local function start_error(cfg)
  local sb = env.Sandbox(env.SandboxConfig(cfg))
  local ok, err = pcall(sb.start, sb)
  assert.is_false(ok)
  return tostring(err)
end

describe("GPU sandboxes", function()
  local saved_root, saved_lib, dev, nodes, driver
  setup(function()
    saved_root, saved_lib = gpu.device_root, gpu.library
    dev, nodes = fake_dev({ "nvidiactl", "nvidia-uvm", "nvidia0", "nvidia1", "nvidia10" })
    driver = fake_driver()
  end)
  teardown(function()
    gpu.device_root, gpu.library = saved_root, saved_lib
    fs.remove(dev)
    fs.remove(driver)
  end)
  before_each(function() gpu.device_root, gpu.library = saved_root, saved_lib end)

  it("fails at start() naming the missing device when the host has no GPU", function()
    if fs.exists("/dev/nvidiactl") then
      pending("this host has an NVIDIA GPU")
      return
    end
    local err = start_error({ gpu = "H100" })
    assert.matches("asks for 1 GPU, but this host has no NVIDIA GPU: /dev/nvidiactl is missing", err)
    -- Nothing is left behind: the error comes before the sandbox's state directory exists.
    assert.is_nil(err:find("seer-sandbox", 1, true))
  end)

  it("fails naming the driver library when the nodes are there but the library is not", function()
    gpu.device_root = dev
    gpu.library = path.join(driver, "libcuda-missing.so.1")
    local err = start_error({ gpu = "H100" })
    assert.matches("the NVIDIA driver library was not found: .*libcuda%-missing%.so%.1 could not be loaded", err)
  end)

  it("refuses more GPUs than the host has, listing them", function()
    gpu.device_root = dev
    gpu.library = path.join(driver, "libcuda.so.1")
    local err = start_error({ gpu = "H100", gpu_count = 4 })
    assert.matches("asks for 4 GPUs, but " .. dev:gsub("%p", "%%%0") .. " has 3 %(nvidia0, nvidia1, nvidia10%)", err)
  end)

  it("binds the control nodes, the first n GPUs and the driver's libraries read-only", function()
    gpu.device_root = dev
    gpu.library = path.join(driver, "libcuda.so.1")
    local sb = env.Sandbox(env.SandboxConfig({ gpu = "H100", gpu_count = 2 }))
    sb:start()
    local listing = sb:exec("ls /dev")
    for _, name in ipairs({ "nvidiactl", "nvidia-uvm", "nvidia0", "nvidia1" }) do
      assert.truthy(listing:find("\n" .. name .. "\n", 1, true) or listing:find("^" .. name .. "\n"),
        name .. " missing from /dev: " .. listing)
    end
    assert.is_nil(listing:find("nvidia10", 1, true))
    if nodes then
      -- The nodes stay usable devices (the stand-ins are /dev/null): opened for writing and read.
      assert.are.equal("c 0\n", sb:exec("test -c /dev/nvidia1 && echo -n c; echo x > /dev/nvidiactl; "
        .. "echo ' '$(head -c 8 /dev/nvidia0 | wc -c)"))
    end
    -- The real path: libcuda.so.1 is a link to the versioned file, as driver installers make it.
    local real = assert(fs.realpath(driver))
    local lib = path.join(real, "libcuda.so.590.1")
    assert.are.equal(lib .. "\n" .. real .. "\n", sb:exec("echo $SEER_CUDA_LIBRARY; echo $LD_LIBRARY_PATH"))
    assert.are.equal("JIT", sb:exec({ "cat", path.join(driver, "libnvidia-ptxjitcompiler.so.1") }))
    local _, _, code = sb:exec({ "cat", path.join(driver, "unrelated.so") }, { check = false })
    assert.are_not.equal(0, code)
    _, _, code = sb:exec("echo x >> " .. lib, { check = false })
    assert.are_not.equal(0, code)
    -- The engine's loader inside the sandbox finds the bound driver through SEER_CUDA_LIBRARY.
    if sb.backend.has_interpreter then
      -- The sanitizer build's options go along: LeakSanitizer cannot work inside the sandbox.
      local status = sb:exec({ "/.seer/seer-lua", "-e", "print(require('seer.cuda').status().driver_version)" },
        { env = { ASAN_OPTIONS = os.getenv("ASAN_OPTIONS"), UBSAN_OPTIONS = os.getenv("UBSAN_OPTIONS") } })
      assert.are.equal("13000\n", status)
    end
    sb:terminate()
  end)
end)
