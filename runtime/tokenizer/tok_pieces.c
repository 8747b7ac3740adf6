/* tok_pieces.c: owns the piece list that carries text between pipeline stages. */
#include "tok_internal.h"

#include <stdlib.h>
#include <string.h>

void tok_pieces_clear(tok_pieces *p) {
  p->n = 0;
  p->arena.len = 0;
}

void tok_pieces_free(tok_pieces *p) {
  free(p->v);
  seer_buf_free(&p->arena);
  memset(p, 0, sizeof *p);
}

int tok_pieces_end(tok_pieces *p, size_t start, int32_t id, bool at_origin) {
  size_t len = p->arena.len - start;
  if (len == 0 && id == -1) return SEER_OK; /* empty text splits vanish, as in HF */
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 16;
    tok_piece *v = realloc(p->v, cap * sizeof *v);
    if (!v) return SEER_ENOMEM;
    p->v = v;
    p->cap = cap;
  }
  p->v[p->n++] = (tok_piece){start, len, id, at_origin};
  return SEER_OK;
}

int tok_pieces_push(tok_pieces *p, const char *s, size_t len, int32_t id, bool at_origin) {
  size_t start = tok_pieces_begin(p);
  if (seer_buf_append(&p->arena, s, len)) return SEER_ENOMEM;
  return tok_pieces_end(p, start, id, at_origin);
}
