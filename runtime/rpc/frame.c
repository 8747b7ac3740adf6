/* frame.c: owns the checks on incoming RPC frames (see seer/rpc_frame.h): a resumable scanner that
 * walks a msgpack value's structure on the wire bytes and enforces the frame limits before
 * anything is decoded, and the frame reader (buffer + scan + decode zone) the connections and the
 * blocking client read through. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seer/rpc_frame.h"

/* What msgpack-c allocates per value: map pairs are two objects, arrays one per element. */
#define OBJECT_BYTES sizeof(msgpack_object)
/* Named arguments travel as ext type 2 holding a msgpack value (docs/PROTOCOL.md). */
#define EXT_NAMED 2
/* A buffer emptied after a frame bigger than this is given back to the allocator. */
#define KEEP_BUFFER (1u << 20)
#define ZONE_CHUNK 8192

seer_rpc_limits seer_rpc_limits_default(void) {
  seer_rpc_limits l = {SEER_RPC_DEFAULT_MAX_FRAME, SEER_RPC_DEFAULT_MAX_OBJECTS, SEER_RPC_MAX_DEPTH,
                       SEER_RPC_DEFAULT_MAX_DECODED};
  return l;
}

seer_rpc_limits seer_rpc_limits_preauth(void) {
  seer_rpc_limits l = {SEER_RPC_PREAUTH_MAX_FRAME, SEER_RPC_PREAUTH_MAX_OBJECTS,
                       SEER_RPC_PREAUTH_MAX_DEPTH, SEER_RPC_PREAUTH_MAX_DECODED};
  return l;
}

void seer_rpc_limits_normalize(seer_rpc_limits *l) {
  seer_rpc_limits d = seer_rpc_limits_default();
  if (!l->max_frame) l->max_frame = d.max_frame;
  if (!l->max_objects) l->max_objects = d.max_objects;
  if (!l->max_depth || l->max_depth > SEER_RPC_MAX_DEPTH) l->max_depth = SEER_RPC_MAX_DEPTH;
  if (!l->max_decoded) l->max_decoded = d.max_decoded;
}

/* ---- the scanner ---- */

static void scan_reset(seer_rpc_scan *s) {
  s->off = s->objects = s->decoded = 0;
  s->level = 0;
  s->st[0].remaining = 1;
  s->st[0].end = 0;
}

static int fail(char *msg, size_t msglen, const char *fmt, ...) {
  if (msg && msglen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
  }
  return SEER_RPC_FRAME_ERROR;
}

static uint64_t be(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++)
    v = (v << 8) | p[i];
  return v;
}

enum { SCALAR, BYTES, ARRAY, MAP, EXT };

/* One value's header: its kind, header size, and the payload size (BYTES, EXT), element count
 * (ARRAY, MAP) or fixed body size (SCALAR) that follows. Returns 0 when the first byte is not
 * msgpack (0xc1). `lenbytes` bytes after the type byte hold the length. */
typedef struct {
  int kind, lenbytes, fixed;
} head_info;

static int classify(uint8_t b, head_info *h) {
  h->lenbytes = 0;
  h->fixed = 0;
  if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
    h->kind = SCALAR;
  } else if (b >= 0x80 && b <= 0x8f) {
    h->kind = MAP;
  } else if (b >= 0x90 && b <= 0x9f) {
    h->kind = ARRAY;
  } else if (b >= 0xa0 && b <= 0xbf) {
    h->kind = BYTES;
  } else {
    switch (b) {
    case 0xc4:
    case 0xd9: h->kind = BYTES, h->lenbytes = 1; break;
    case 0xc5:
    case 0xda: h->kind = BYTES, h->lenbytes = 2; break;
    case 0xc6:
    case 0xdb: h->kind = BYTES, h->lenbytes = 4; break;
    case 0xc7: h->kind = EXT, h->lenbytes = 1; break;
    case 0xc8: h->kind = EXT, h->lenbytes = 2; break;
    case 0xc9: h->kind = EXT, h->lenbytes = 4; break;
    case 0xca:
    case 0xce:
    case 0xd2: h->kind = SCALAR, h->fixed = 4; break;
    case 0xcb:
    case 0xcf:
    case 0xd3: h->kind = SCALAR, h->fixed = 8; break;
    case 0xcc:
    case 0xd0: h->kind = SCALAR, h->fixed = 1; break;
    case 0xcd:
    case 0xd1: h->kind = SCALAR, h->fixed = 2; break;
    case 0xd4: h->kind = EXT, h->fixed = 1; break;
    case 0xd5: h->kind = EXT, h->fixed = 2; break;
    case 0xd6: h->kind = EXT, h->fixed = 4; break;
    case 0xd7: h->kind = EXT, h->fixed = 8; break;
    case 0xd8: h->kind = EXT, h->fixed = 16; break;
    case 0xdc: h->kind = ARRAY, h->lenbytes = 2; break;
    case 0xdd: h->kind = ARRAY, h->lenbytes = 4; break;
    case 0xde: h->kind = MAP, h->lenbytes = 2; break;
    case 0xdf: h->kind = MAP, h->lenbytes = 4; break;
    default: return 0; /* 0xc1: never used */
    }
  }
  return 1;
}

/* Walks p[s->off, len) (p is the frame's first byte), one value header at a time, until the frame
 * is complete (READY, s->off is its size), the bytes run out (MORE: call again with more), or a
 * limit or a malformed byte stops it (ERROR). Nothing is committed for a value until its header
 * and, for scalars and byte strings, its body are all there, so a call may resume anywhere. */
static int scan(seer_rpc_scan *s, const uint8_t *p, size_t len, const seer_rpc_limits *lim,
                char *msg, size_t msglen) {
  for (;;) {
    while (s->level > 0 && s->st[s->level].remaining == 0) {
      if (s->st[s->level].end && s->off != s->st[s->level].end)
        return fail(msg, msglen,
                    "malformed frame: named arguments (ext 2) must hold exactly one "
                    "msgpack value");
      s->level--;
    }
    if (s->level == 0 && s->st[0].remaining == 0) return SEER_RPC_FRAME_READY;
    if (s->off >= len) return SEER_RPC_FRAME_MORE;
    uint8_t b = p[s->off];
    head_info h;
    if (!classify(b, &h))
      return fail(msg, msglen, "malformed frame: byte 0x%02x at offset %zu is not msgpack", b,
                  s->off);
    size_t head = 1 + (size_t)h.lenbytes + (h.kind == EXT && h.lenbytes ? 1 : 0);
    if (h.kind == EXT && !h.lenbytes) head = 2; /* fixext: type byte, then `fixed` data bytes */
    if (len - s->off < head) return SEER_RPC_FRAME_MORE;
    uint64_t n = h.lenbytes ? be(p + s->off + 1, h.lenbytes) : 0;
    if (!h.lenbytes) {
      if (h.kind == MAP) n = b & 0x0f;
      if (h.kind == ARRAY) n = b & 0x0f;
      if (h.kind == BYTES) n = b & 0x1f;
      if (h.kind == EXT || h.kind == SCALAR) n = (uint64_t)h.fixed;
    }
    uint64_t body = h.kind == ARRAY || h.kind == MAP ? 0 : n;
    uint64_t values = h.kind == MAP ? 2 * n : h.kind == ARRAY ? n : 0;
    if (s->objects >= lim->max_objects || values > lim->max_objects - s->objects - 1)
      return fail(msg, msglen, "frame has more than %zu values (limit max_objects)",
                  lim->max_objects);
    if (body > lim->max_frame || s->off + head + body > lim->max_frame)
      return fail(msg, msglen,
                  "frame exceeds the limit of %zu bytes (a value at offset %zu needs "
                  "%llu bytes)",
                  lim->max_frame, s->off, (unsigned long long)(head + body));
    uint64_t decoded = OBJECT_BYTES + (h.kind == SCALAR ? 0 : body);
    if (decoded > lim->max_decoded || s->decoded + decoded > lim->max_decoded)
      return fail(msg, msglen,
                  "frame would take more than %zu bytes once decoded (limit "
                  "max_decoded)",
                  lim->max_decoded);
    int named = h.kind == EXT && p[s->off + head - 1] == EXT_NAMED;
    int opens = (values > 0) || named;
    if ((h.kind == ARRAY || h.kind == MAP || named) && (size_t)s->level >= lim->max_depth)
      return fail(msg, msglen, "frame is nested deeper than %zu levels (limit max_depth)",
                  lim->max_depth);
    if (named && body == 0)
      return fail(msg, msglen, "malformed frame: empty named arguments (ext 2)");
    if (!named && len - s->off - head < body) return SEER_RPC_FRAME_MORE;
    /* Commit the value. */
    s->st[s->level].remaining--;
    s->objects++;
    s->decoded += decoded;
    s->off += head + (named ? 0 : body);
    if (opens) {
      s->level++;
      s->st[s->level].remaining = named ? 1 : values;
      s->st[s->level].end = named ? s->off + body : 0;
    }
  }
}

int seer_rpc_check_value(const void *data, size_t len, const seer_rpc_limits *lim, char *msg,
                         size_t msglen) {
  seer_rpc_limits l = *lim;
  seer_rpc_limits_normalize(&l);
  seer_rpc_scan s;
  scan_reset(&s);
  int rc = scan(&s, data, len, &l, msg, msglen);
  if (rc == SEER_RPC_FRAME_ERROR) return -1;
  if (rc == SEER_RPC_FRAME_MORE)
    return fail(msg, msglen, "data ends in the middle of a value (%zu bytes)", len), -1;
  if (s.off != len)
    return fail(msg, msglen, "trailing data after the value at byte %zu", s.off + 1), -1;
  return 0;
}

/* ---- the reader ---- */

int seer_rpc_reader_init(seer_rpc_reader *r) {
  memset(r, 0, sizeof *r);
  scan_reset(&r->scan);
  return msgpack_zone_init(&r->zone, ZONE_CHUNK) ? 0 : -1;
}

void seer_rpc_reader_destroy(seer_rpc_reader *r) {
  free(r->buf);
  r->buf = NULL;
  msgpack_zone_destroy(&r->zone);
}

/* Drops the frame handed out last (its bytes and its decoded objects). */
static void retire(seer_rpc_reader *r) {
  if (!r->delivered) return;
  r->start += r->delivered;
  int big = r->scan.decoded > KEEP_BUFFER;
  r->delivered = 0;
  scan_reset(&r->scan);
  if (big) { /* the zone keeps its biggest chunk: give it back */
    msgpack_zone_destroy(&r->zone);
    if (!msgpack_zone_init(&r->zone, ZONE_CHUNK)) memset(&r->zone, 0, sizeof r->zone);
  } else {
    msgpack_zone_clear(&r->zone);
  }
}

char *seer_rpc_reader_space(seer_rpc_reader *r, size_t want, size_t *avail) {
  retire(r);
  if (r->start == r->end) {
    r->start = r->end = 0;
    if (r->cap > KEEP_BUFFER) {
      free(r->buf);
      r->buf = NULL;
      r->cap = 0;
    }
  }
  if (r->cap - r->end < want && r->start > 0) {
    memmove(r->buf, r->buf + r->start, r->end - r->start);
    r->end -= r->start;
    r->start = 0;
  }
  if (r->cap - r->end < want) {
    size_t cap = r->cap ? r->cap * 2 : 64 * 1024;
    while (cap < r->end + want)
      cap *= 2;
    char *b = realloc(r->buf, cap);
    if (!b) return NULL;
    r->buf = b;
    r->cap = cap;
  }
  *avail = r->cap - r->end;
  return r->buf + r->end;
}

void seer_rpc_reader_commit(seer_rpc_reader *r, size_t n) { r->end += n; }

size_t seer_rpc_reader_pending(const seer_rpc_reader *r) { return r->end - r->start; }

int seer_rpc_reader_frame(seer_rpc_reader *r, const seer_rpc_limits *lim, const char **data,
                          size_t *size, char *msg, size_t msglen) {
  retire(r);
  if (r->start == r->end) return SEER_RPC_FRAME_MORE;
  const char *frame = r->buf + r->start;
  int rc = scan(&r->scan, (const uint8_t *)frame, r->end - r->start, lim, msg, msglen);
  if (rc != SEER_RPC_FRAME_READY) return rc;
  r->delivered = r->scan.off; /* retired by the next call */
  *data = frame;
  *size = r->scan.off;
  return SEER_RPC_FRAME_READY;
}

int seer_rpc_reader_next(seer_rpc_reader *r, const seer_rpc_limits *lim, msgpack_object *out,
                         char *msg, size_t msglen) {
  const char *frame;
  size_t size, off = 0;
  int rc = seer_rpc_reader_frame(r, lim, &frame, &size, msg, msglen);
  if (rc != SEER_RPC_FRAME_READY) return rc;
  if (!r->zone.chunk_size) return fail(msg, msglen, "out of memory while decoding a frame");
  msgpack_unpack_return u = msgpack_unpack(frame, size, &off, &r->zone, out);
  if (u == MSGPACK_UNPACK_NOMEM_ERROR)
    return fail(msg, msglen, "out of memory while decoding a frame");
  if (u != MSGPACK_UNPACK_SUCCESS)
    return fail(msg, msglen, "malformed frame: msgpack-c could not decode it");
  return SEER_RPC_FRAME_READY;
}

/* ---- fuzzing ---- */

/* Reads every byte of a decoded value, so that a bad pointer shows under the sanitizers. */
static size_t touch(const msgpack_object *o) {
  size_t sum = (size_t)o->type;
  switch (o->type) {
  case MSGPACK_OBJECT_STR:
  case MSGPACK_OBJECT_BIN:
    for (uint32_t i = 0; i < o->via.str.size; i++)
      sum += (unsigned char)o->via.str.ptr[i];
    break;
  case MSGPACK_OBJECT_EXT:
    for (uint32_t i = 0; i < o->via.ext.size; i++)
      sum += (unsigned char)o->via.ext.ptr[i];
    break;
  case MSGPACK_OBJECT_ARRAY:
    for (uint32_t i = 0; i < o->via.array.size; i++)
      sum += touch(&o->via.array.ptr[i]);
    break;
  case MSGPACK_OBJECT_MAP:
    for (uint32_t i = 0; i < o->via.map.size; i++)
      sum += touch(&o->via.map.ptr[i].key) + touch(&o->via.map.ptr[i].val);
    break;
  default: break;
  }
  return sum;
}

static volatile size_t fuzz_sink;

static void fuzz_stream(const uint8_t *data, size_t len, const seer_rpc_limits *lim) {
  seer_rpc_reader r;
  if (seer_rpc_reader_init(&r) != 0) return;
  char msg[200];
  size_t pos = 0, step = 0;
  int done = 0;
  while (pos < len && !done) {
    size_t chunk = 1 + (step++ * 7) % 64; /* uneven reads: frames split at every point */
    if (chunk > len - pos) chunk = len - pos;
    size_t avail;
    char *dst = seer_rpc_reader_space(&r, chunk, &avail);
    if (!dst) break;
    memcpy(dst, data + pos, chunk);
    seer_rpc_reader_commit(&r, chunk);
    pos += chunk;
    for (;;) {
      msgpack_object o;
      int rc = seer_rpc_reader_next(&r, lim, &o, msg, sizeof msg);
      if (rc == SEER_RPC_FRAME_READY) {
        fuzz_sink += touch(&o);
        continue;
      }
      if (rc == SEER_RPC_FRAME_ERROR) {
        /* The scanner passed a frame that msgpack-c then refused: the two disagree on msgpack. */
        if (strstr(msg, "msgpack-c could not decode")) abort();
        done = 1;
      }
      break;
    }
  }
  seer_rpc_reader_destroy(&r);
}

int seer_rpc_fuzz_decode(const uint8_t *data, size_t len) {
  seer_rpc_limits def = seer_rpc_limits_default();
  seer_rpc_limits pre = seer_rpc_limits_preauth();
  seer_rpc_limits tiny = {64, 16, 3, 512};
  fuzz_stream(data, len, &def);
  fuzz_stream(data, len, &pre);
  fuzz_stream(data, len, &tiny);
  char msg[200];
  seer_rpc_check_value(data, len, &def, msg, sizeof msg);
  return 0;
}
