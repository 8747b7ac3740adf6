---@meta seer.tensor
--- seer.tensor: dense CPU tensors (f32, bf16, f16, i32, i64) with numpy-like printing, 1-based
--- indexing, views that share storage, broadcasting arithmetic, reductions, safetensors files and
--- the msgpack codec used by RPC. Written in C (lua/l_tensor.c, lua/l_tensor_ops.c,
--- lua/l_tensor_index.c, lua/l_tensor_directions.c, lua/l_tensor_io.c, lua/l_tensor_msgpack.c).
--- Constructors take their trailing options positionally or as a table:
--- `randn({64}, 3)` or `randn({64}, {seed = 3, dtype = "bf16"})`.
local M = {}

---@class seer.Tensor
--- A tensor. `t[i]` is a number for a 1-D tensor and otherwise a view of row i (1-based, negative
--- from the end); `t[i] = v` sets an element or fills / copies into a row. A table index selects
--- per dim as torch7 did: an integer picks one entry and drops the dim, `{a, b}` keeps a..b
--- (inclusive), `{a}` keeps a..a, `{}` or `":"` keeps all: `t[{2, {3, 5}}]` is a view, and
--- `t[{...}] = v` assigns through it. `t[mask]` (an integer mask of t's shape or its leading dims)
--- gives the selected elements or rows, and `t[mask] = number` fills them. `#t` is the size of
--- dim 1. `+ - * /` broadcast; unary minus negates.
---@field shape integer[] the size of each dim (also callable: `t:shape()`, `t:shape(dim)`)
---@field dtype string "f32", "bf16", "f16", "i32" or "i64"
---@field ndim integer the number of dims
---@field device string "cpu" (or "cuda" in a CUDA build)
local Tensor = {}

--- A tensor from a (nested) table of numbers, a number, or a copy of a tensor.
---@param data number|table|seer.Tensor a number, a nested list such as {{1, 2}, {3, 4}}, or a tensor
---@param dtype string|table? the element type (default f32, or the source tensor's), or {dtype = ...}
---@return seer.Tensor
function M.from(data, dtype) end

--- A tensor of zeros.
---@param shape integer[]|integer a shape such as {2, 3}, or the length of a 1-D tensor
---@param dtype string|table? default f32, or {dtype = ...}
---@return seer.Tensor
function M.zeros(shape, dtype) end

--- A tensor of ones.
---@param shape integer[]|integer
---@param dtype string|table? default f32, or {dtype = ...}
---@return seer.Tensor
function M.ones(shape, dtype) end

--- A tensor with every element set to `value`.
---@param shape integer[]|integer
---@param value number
---@param dtype string|table? default f32, or {dtype = ...}
---@return seer.Tensor
function M.full(shape, value, dtype) end

--- Standard normal samples; the same seed gives the same values on every machine.
---@param shape integer[]|integer
---@param seed integer|table? default 0, or an options table {seed = ..., dtype = ...}
---@param dtype string? default f32
---@return seer.Tensor
function M.randn(shape, seed, dtype) end

--- Load every tensor of a safetensors file; the tensors borrow the file's memory mapping. A file that
--- is missing, unreadable or malformed gives nil and a message naming it (and the tensor at fault).
---@param path string
---@return table<string, seer.Tensor>? tensors by name
---@return string? err
function M.load(path) end

--- Write tensors to a safetensors file (names in sorted order, so the file is reproducible). Returns
--- true, or nil and a message when the file cannot be written; a value that is not a Tensor raises.
---@param path string
---@param tensors table<string, seer.Tensor>
---@return true?
---@return string? err
function M.save(path, tensors) end

--- Whether `v` is a Tensor.
---@param v any
---@return boolean
function M.is_tensor(v) end

--- Decode the payload of a msgpack ext type 1 value ([dtype, shape, little-endian bytes]) into a
--- tensor; the msgpack and RPC decoders use it for tensors sent by a peer.
---@param payload string
---@return seer.Tensor
function M.from_msgpack(payload) end

--- Get or set the number of CPU threads the tensor and model kernels use (0 = all cores).
---@param n integer? the new count
---@return integer the count in effect
function M.threads(n) end

--- The instruction-set level of the CPU kernels in use ("generic", "avx2", "avx512", "avx512bf16" or
--- "amx"), chosen at first use from CPUID and the OS's saved register state, or lowered by the
--- SEER_CPU environment variable; and the best level this machine supports.
---@return string level the level in use
---@return string best the highest level this CPU and OS support
function M.cpu_level() end

--- Elements a..b (inclusive, 1-based, negative from the end, like string.sub) along `dim`, as a
--- view sharing storage.
---@param dim integer 1-based, or -1 for the last
---@param a integer
---@param b integer? default -1 (the end)
---@return seer.Tensor
function Tensor:slice(dim, a, b) end

--- The same elements with a new shape (a view when the tensor is contiguous, else a copy). One
--- dim may be -1, inferred from the others.
---@param shape integer[]|integer a shape table, or the dims as arguments: t:reshape(2, -1)
---@return seer.Tensor
function Tensor:reshape(shape) end

--- The same as `reshape`.
---@param shape integer[]|integer
---@return seer.Tensor
function Tensor:view(shape) end

--- A view with a new dim of size 1 at `dim`.
---@param dim integer
---@return seer.Tensor
function Tensor:unsqueeze(dim) end

--- A view without `dim`, which must have size 1.
---@param dim integer
---@return seer.Tensor
function Tensor:squeeze(dim) end

--- A view with two dims swapped (default: the last two).
---@param d1 integer?
---@param d2 integer?
---@return seer.Tensor
function Tensor:transpose(d1, d2) end

--- A contiguous copy.
---@return seer.Tensor
function Tensor:clone() end

--- A copy converted to a dtype (or to "cpu"); the tensor itself when nothing changes.
---@param dtype string "f32", "bf16", "f16", "i32", "i64" or "cpu"
---@return seer.Tensor
function Tensor:to(dtype) end

--- Copy `src` (same shape) into this tensor, converting dtype; returns self.
---@param src seer.Tensor
---@return seer.Tensor
function Tensor:copy_(src) end

--- Nested tables of numbers (a plain number for a 0-D tensor).
---@return table|number
function Tensor:totable() end

--- The value of a one-element tensor.
---@return number
function Tensor:item() end

--- The number of elements.
---@return integer
function Tensor:numel() end

--- Whether the elements are laid out densely in row-major order.
---@return boolean
function Tensor:is_contiguous() end

--- The address of element 1, without a copy (an FFI pointer on LuaJIT, a light userdata on Lua
--- 5.4). Keep the tensor referenced while the pointer is in use; strided views raise.
---@return userdata
function Tensor:ptr() end

--- Element-wise sum with broadcasting (the same as `a + b`).
---@param other seer.Tensor|number
---@return seer.Tensor
function Tensor:add(other) end

--- Element-wise difference with broadcasting (`a - b`).
---@param other seer.Tensor|number
---@return seer.Tensor
function Tensor:sub(other) end

--- Element-wise product with broadcasting (`a * b`).
---@param other seer.Tensor|number
---@return seer.Tensor
function Tensor:mul(other) end

--- Element-wise quotient with broadcasting (`a / b`).
---@param other seer.Tensor|number
---@return seer.Tensor
function Tensor:div(other) end

--- In-place `+=` (other broadcast to this shape); returns self.
---@param other seer.Tensor|number
---@return seer.Tensor
function Tensor:add_(other) end

--- In-place `-=`; returns self.
---@param other seer.Tensor|number
---@return seer.Tensor
function Tensor:sub_(other) end

--- In-place `*=`; returns self.
---@param other seer.Tensor|number
---@return seer.Tensor
function Tensor:mul_(other) end

--- In-place `/=`; returns self.
---@param other seer.Tensor|number
---@return seer.Tensor
function Tensor:div_(other) end

--- Element-wise absolute value.
---@return seer.Tensor
function Tensor:abs() end

--- Element-wise negation (`-t`).
---@return seer.Tensor
function Tensor:neg() end

--- The sum of every element (a number), or along `dim` (a tensor).
---@param dim integer?
---@param keepdim boolean? keep `dim` with size 1
---@return number|seer.Tensor
function Tensor:sum(dim, keepdim) end

--- The mean of every element, or along `dim`. On a contiguous f32 device tensor (a hook on a
--- `device = "cuda"` model) it runs on the device and the result, equal to the CPU's, is a host
--- tensor.
---@param dim integer?
---@param keepdim boolean?
---@return number|seer.Tensor
function Tensor:mean(dim, keepdim) end

--- The largest element, or the largest along `dim`.
---@param dim integer?
---@param keepdim boolean?
---@return number|seer.Tensor
function Tensor:max(dim, keepdim) end

--- The smallest element, or the smallest along `dim`.
---@param dim integer?
---@param keepdim boolean?
---@return number|seer.Tensor
function Tensor:min(dim, keepdim) end

--- The L2 norm of every element, or along `dim`.
---@param dim integer?
---@param keepdim boolean?
---@return number|seer.Tensor
function Tensor:norm(dim, keepdim) end

--- Scaled to unit L2 norm along `dim` (default the last).
---@param dim integer?
---@return seer.Tensor
function Tensor:normalize(dim) end

--- The dot product of two tensors with the same number of elements.
---@param other seer.Tensor
---@return number
function Tensor:dot(other) end

--- The cosine similarity of two tensors with the same number of elements.
---@param other seer.Tensor
---@return number
function Tensor:cosine(other) end

--- The matrix product (1-D and 2-D operands, batched over leading dims); a number for two
--- vectors. A contiguous f32 device tensor on the left (a hook on a `device = "cuda"` model) stays
--- on the device; the product comes back as a host tensor.
---@param other seer.Tensor
---@return seer.Tensor|number
function Tensor:matmul(other) end

--- The outer product of two vectors.
---@param other seer.Tensor
---@return seer.Tensor
function Tensor:outer(other) end

--- Softmax along `dim` (default the last).
---@param dim integer?
---@return seer.Tensor
function Tensor:softmax(dim) end

--- Log-softmax along `dim` (default the last).
---@param dim integer?
---@return seer.Tensor
function Tensor:log_softmax(dim) end

--- The k largest values along `dim` (default the last), largest first (ties by lower index), and
--- their 1-based indices.
---@param k integer
---@param dim integer?
---@return seer.Tensor values
---@return seer.Tensor indices i64, 1-based
function Tensor:topk(k, dim) end

--- The 1-based index of the largest element (a number, counting in row-major order), or along
--- `dim` an i64 tensor of indices.
---@param dim integer?
---@return integer|seer.Tensor
function Tensor:argmax(dim) end


--- The shape (a table), or the size of one dim; `t.shape` is the same table.
---@param dim integer?
---@return integer[]|integer
function Tensor:shape(dim) end

--- The shape (a table), or the size of one dim, as torch's size().
---@param dim integer?
---@return integer[]|integer
function Tensor:size(dim) end

--- `length` entries from `start` (1-based, negative from the end) along `dim`, as a view.
---@param dim integer
---@param start integer
---@param length integer
---@return seer.Tensor
function Tensor:narrow(dim, start, length) end

--- A copy holding the entries at `indices` (1-based; a list or a 1-D integer tensor, such as
--- topk's) along `dim`, in that order.
---@param dim integer
---@param indices integer[]|seer.Tensor
---@return seer.Tensor
function Tensor:index_select(dim, indices) end

--- The elements where `mask` is nonzero (a 1-D copy) when the mask has the tensor's shape, or the
--- rows it selects ([count, ...]) when it has the tensor's leading dims; the same as `t[mask]`.
---@param mask seer.Tensor
---@return seer.Tensor
function Tensor:masked_select(mask) end

--- Set the entries that `mask` selects (as in masked_select) to `value`; returns self.
---@param mask seer.Tensor
---@param value number
---@return seer.Tensor
function Tensor:masked_fill_(mask, value) end

--- A copy with the entries that `mask` selects set to `value`.
---@param mask seer.Tensor
---@param value number
---@return seer.Tensor
function Tensor:masked_fill(mask, value) end

--- A view with the dims reordered: dim i of the result is dim `dims[i]`; t:permute(2, 1) or
--- t:permute({3, 1, 2}).
---@param dims integer[]|integer
---@return seer.Tensor
function Tensor:permute(dims) end

--- Element-wise `==` with broadcasting: an i32 mask of 0 and 1 (there is no bool dtype).
---@param other seer.Tensor|number
---@return seer.Tensor
function Tensor:eq(other) end

--- Element-wise `~=`: an i32 mask of 0 and 1.
---@param other seer.Tensor|number
---@return seer.Tensor
function Tensor:ne(other) end

--- Element-wise `<`: an i32 mask of 0 and 1.
---@param other seer.Tensor|number
---@return seer.Tensor
function Tensor:lt(other) end

--- Element-wise `<=`: an i32 mask of 0 and 1.
---@param other seer.Tensor|number
---@return seer.Tensor
function Tensor:le(other) end

--- Element-wise `>`: an i32 mask of 0 and 1.
---@param other seer.Tensor|number
---@return seer.Tensor
function Tensor:gt(other) end

--- Element-wise `>=`: an i32 mask of 0 and 1.
---@param other seer.Tensor|number
---@return seer.Tensor
function Tensor:ge(other) end

--- Cosine similarity of the vectors along `dim` (default the last), `other` broadcast against
--- this tensor; a zero vector gives 0. A number when the result has no dims left.
---@param other seer.Tensor
---@param dim integer?
---@return seer.Tensor|number
function Tensor:cosine_similarity(other, dim) end

--- The scalar projection t·d/|d| of each vector in the last dim onto `direction` (a number for a
--- 1-D tensor).
---@param direction seer.Tensor 1-D, the size of the last dim
---@return seer.Tensor|number
function Tensor:along(direction) end

--- The component of each vector along `direction`, (t·d̂) d̂, shaped like the tensor.
---@param direction seer.Tensor 1-D, the size of the last dim
---@return seer.Tensor
function Tensor:project(direction) end

--- Each vector minus its component along `direction` (directional ablation).
---@param direction seer.Tensor 1-D, the size of the last dim
---@return seer.Tensor
function Tensor:project_out(direction) end

return M
