---@meta seer.tokenizer
--- seer.tokenizer: HF `tokenizer.json` tokenizers (BPE, byte-level and SentencePiece-style) and
--- Jinja chat templates, exact against `transformers`. Written in C (lua/l_tokenizer.c).
local M = {}

---@class seer.Tokenizer
--- A loaded tokenizer.
---@field vocab_size integer
---@field bos_token string|nil
---@field eos_token string|nil
---@field bos_token_id integer|nil
---@field eos_token_id integer|nil
---@field chat_template string|nil
local Tokenizer = {}

--- Load a tokenizer from a `tokenizer.json` file or a model directory holding one (with its
--- `tokenizer_config.json` for the chat template and special tokens).
---@param path string
---@return seer.Tokenizer
function M.load(path) end

--- Token ids for a text.
---@param text string
---@param opts table? {add_special_tokens = boolean (default true)}
---@return integer[]
function Tokenizer:encode(text, opts) end

--- The text for token ids.
---@param ids integer[]
---@param opts table? {skip_special_tokens = boolean (default false)}
---@return string
function Tokenizer:decode(ids, opts) end

--- The id of a token string, or nil when it is not in the vocabulary.
---@param token string
---@return integer|nil
function Tokenizer:token_to_id(token) end

--- The token string of an id, or nil when there is none.
---@param id integer
---@return string|nil
function Tokenizer:id_to_token(id) end

--- Render a conversation with the tokenizer's chat template (as transformers'
--- apply_chat_template). Options other than the ones below become template variables
--- (e.g. enable_thinking).
---@param messages table[] {role = ..., content = ...} messages
---@param opts table? {add_generation_prompt, tokenize, tools, chat_template, ...}
---@return string|integer[] the prompt text, or its ids when opts.tokenize
function Tokenizer:apply_chat_template(messages, opts) end

return M
