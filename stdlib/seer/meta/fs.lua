---@meta seer.fs
--- seer.fs: files and directories. Failures return nil and a message (the luv convention);
--- argument mistakes raise. Written in C (lua/l_fs.c).
local M = {}

--- The whole contents of a file.
---@param path string
---@return string|nil data
---@return string? err
function M.read(path) end

--- Replace a file's contents atomically (a temporary file renamed over it, so readers see the
--- old or the new contents, never a torn write). With `mode` (e.g. tonumber("600", 8) for a
--- secret), the file is created with at most that mode and never readable more widely.
---@param path string
---@param data string
---@param mode integer? default 0666 less the umask
---@return true|nil ok
---@return string? err
function M.write(path, data, mode) end

--- Create a directory and any missing parents.
---@param path string
---@param mode integer? default 0777 (before the umask)
---@return true|nil ok
---@return string? err
function M.mkdir(path, mode) end

--- The names in a directory (without "." and "..").
---@param path string
---@return string[]|nil names
---@return string? err
function M.list(path) end

--- What is at a path: "file", "directory" or "other", or nil when nothing is there.
---@param path string
---@return string|nil
function M.kind(path) end

--- Whether anything exists at a path.
---@param path string
---@return boolean
function M.exists(path) end

--- Whether a path is a directory.
---@param path string
---@return boolean
function M.is_dir(path) end

--- Whether a path is a regular file.
---@param path string
---@return boolean
function M.is_file(path) end

--- Remove a file, or a directory with everything under it (symlinks are removed, not followed).
--- A missing path is not an error.
---@param path string
---@return true|nil ok
---@return string? err
function M.remove(path) end

--- Create a fresh private temporary directory.
---@param prefix string? default "seer"
---@return string|nil path
---@return string? err
function M.tmpdir(prefix) end

--- The current working directory.
---@return string|nil path
---@return string? err
function M.cwd() end

--- A file's size in bytes.
---@param path string
---@return integer|nil size
---@return string? err
function M.size(path) end

--- A symlink's target (nil, nil when the path is not a symlink).
---@param path string
---@return string|nil target
---@return string? err
function M.readlink(path) end

--- Change a path's permission bits.
---@param path string
---@param mode integer e.g. tonumber("755", 8)
---@return true|nil ok
---@return string? err
function M.chmod(path, mode) end

--- The absolute path with every symbolic link and `.`/`..` resolved (the file must exist).
---@param path string
---@return string|nil resolved
---@return string? err
function M.realpath(path) end

---@class seer.fs.Lock
local Lock = {}

--- An exclusive lock (flock) on `path`, created 0600 and never through a symlink; waits while
--- another process holds it. For short critical sections, such as two writers of one file.
---@param path string
---@return seer.fs.Lock|nil lock
---@return string? err
function M.lock(path) end

--- Release the lock (also done when the lock is collected).
function Lock:unlock() end

return M
