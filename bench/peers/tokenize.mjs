// Peer for bench/tokenize: encodes the same corpus chunks with @lenml/tokenizers (the
// transformers.js tokenizer port) and prints one line per tokenizer:
//   <name> <seconds> <tokens>
// usage: node tokenize.mjs CACHE_DIR CORPUS_FILE name...
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const [cache, corpusFile, ...names] = process.argv.slice(2);
const require = createRequire(join(cache, "npm", "package.json"));
const { TokenizerLoader } = require("@lenml/tokenizers");
// Chunks are separated by NUL bytes, exactly as the C side splits them.
const chunks = readFileSync(corpusFile, "utf8").split("\0");

for (const name of names) {
  const dir = join(cache, "tokenizers", name);
  const tokenizer = TokenizerLoader.fromPreTrained({
    tokenizerJSON: JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8")),
    tokenizerConfig: JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8")),
  });
  tokenizer.encode(chunks[0], { add_special_tokens: false }); // warm-up
  const t0 = process.hrtime.bigint();
  let tokens = 0;
  for (const c of chunks) tokens += tokenizer.encode(c, { add_special_tokens: false }).length;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`${name} ${secs.toFixed(3)} ${tokens}`);
}
