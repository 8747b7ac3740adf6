/* RPC frame limits and the frame reader: what every RPC receiver (loop connections, the blocking
 * client) uses to cut msgpack frames out of a byte stream without trusting the peer.
 *
 * A frame is checked by a scanner that walks the msgpack structure on the wire bytes, resumably
 * across reads, before msgpack-c decodes anything: it counts the frame's wire bytes, its values,
 * its nesting and the bytes the decoded frame will take (msgpack-c objects plus string payloads),
 * and refuses the frame as soon as one passes its limit. A 100 MB frame of nils (24 bytes each once
 * decoded) is thus refused after max_objects values, not decoded into gigabytes; a str header that
 * announces 4 GB is refused at the header. Named arguments (ext type 2) hold a msgpack value of
 * their own: the scanner walks into them and counts them with the frame.
 *
 * Fuzzing: seer_rpc_fuzz_decode (below) is the entry point for a libFuzzer harness
 * (tests/fuzz/fuzz_rpc_frame.c). */
#ifndef SEER_RPC_FRAME_H
#define SEER_RPC_FRAME_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* msgpack-c's unpacker refuses deeper nesting, so no limit can allow more. */
#define SEER_RPC_MAX_DEPTH 32

typedef struct seer_rpc_limits {
  size_t max_frame;   /* wire bytes of one frame */
  size_t max_objects; /* msgpack values in one frame (containers, their elements, map keys) */
  size_t max_depth;   /* nested arrays, maps and named-argument values (<= SEER_RPC_MAX_DEPTH) */
  size_t max_decoded; /* bytes of the decoded frame: one msgpack_object per value + payloads */
} seer_rpc_limits;

/* After authentication (or on a connection that needs none): 256 MiB frames, 4 Mi values. */
#define SEER_RPC_DEFAULT_MAX_FRAME ((size_t)256 << 20)
#define SEER_RPC_DEFAULT_MAX_OBJECTS ((size_t)4 << 20)
#define SEER_RPC_DEFAULT_MAX_DECODED ((size_t)320 << 20)
/* Before seer.auth on a token-protected server: room for [0, id, "seer.auth", [token]]. */
#define SEER_RPC_PREAUTH_MAX_FRAME ((size_t)4 << 10)
#define SEER_RPC_PREAUTH_MAX_OBJECTS ((size_t)64)
#define SEER_RPC_PREAUTH_MAX_DEPTH ((size_t)4)
#define SEER_RPC_PREAUTH_MAX_DECODED ((size_t)16 << 10)

/* The defaults after authentication. */
seer_rpc_limits seer_rpc_limits_default(void);
/* The tiny limits before authentication. */
seer_rpc_limits seer_rpc_limits_preauth(void);
/* Fills zero fields with the defaults and clamps max_depth to SEER_RPC_MAX_DEPTH. */
void seer_rpc_limits_normalize(seer_rpc_limits *l);

/* The scanner's state for the frame being received. */
typedef struct seer_rpc_scan {
  size_t off;     /* wire bytes of the frame walked so far */
  size_t objects; /* values seen */
  size_t decoded; /* decoded bytes so far */
  int level;      /* open containers; level 0 is the frame itself */
  struct {
    uint64_t remaining; /* values still to come at this level */
    size_t end;         /* named arguments: where their payload ends (0 for containers) */
  } st[SEER_RPC_MAX_DEPTH + 1];
} seer_rpc_scan;

/* A frame buffer: bytes read from a socket, the scan of the frame at its front, and the zone the
 * decoded frame lives in. */
typedef struct seer_rpc_reader {
  char *buf;
  size_t start, end, cap; /* unread bytes are buf[start, end) */
  size_t delivered;       /* bytes of the frame handed out by the last next() call */
  seer_rpc_scan scan;
  msgpack_zone zone;
} seer_rpc_reader;

enum { SEER_RPC_FRAME_ERROR = -1, SEER_RPC_FRAME_MORE = 0, SEER_RPC_FRAME_READY = 1 };

int seer_rpc_reader_init(seer_rpc_reader *r);
void seer_rpc_reader_destroy(seer_rpc_reader *r);
/* Where the next read goes: at least `want` free bytes (compacting or growing the buffer); NULL
 * when out of memory. *avail is the room there. */
char *seer_rpc_reader_space(seer_rpc_reader *r, size_t want, size_t *avail);
/* Counts n bytes just read into the space. */
void seer_rpc_reader_commit(seer_rpc_reader *r, size_t n);
/* The next frame: READY with *out valid until the next call (its strings point into the buffer),
 * MORE when the frame is not complete yet, ERROR with a message in msg when the frame breaks a
 * limit or is not msgpack (the stream cannot be read any further). */
int seer_rpc_reader_next(seer_rpc_reader *r, const seer_rpc_limits *lim, msgpack_object *out,
                         char *msg, size_t msglen);
/* The same without decoding: the frame's bytes, checked against lim, valid until the next call. */
int seer_rpc_reader_frame(seer_rpc_reader *r, const seer_rpc_limits *lim, const char **data,
                          size_t *size, char *msg, size_t msglen);
/* Bytes of the current partial frame received so far (for messages). */
size_t seer_rpc_reader_pending(const seer_rpc_reader *r);

/* Checks that data[0, len) is exactly one msgpack value within lim (seer.msgpack.decode uses it on
 * strings from peers). Returns 0, or -1 with a message in msg. */
int seer_rpc_check_value(const void *data, size_t len, const seer_rpc_limits *lim, char *msg,
                         size_t msglen);

/* libFuzzer entry point: feeds data to a frame reader in uneven chunks under the default and the
 * pre-authentication limits, decoding every frame it yields. Never crashes, leaks or allocates
 * beyond the limits on any input; returns 0. */
int seer_rpc_fuzz_decode(const uint8_t *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
