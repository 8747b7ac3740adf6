/* spec.c: owns reading a sandbox spec (the JSON file the host writes for `seer-sandbox init`). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "seer/sandbox.h"

static char *dup_field(json_t *obj, const char *key) {
  const char *s = json_string_value(json_object_get(obj, key));
  return s ? strdup(s) : NULL;
}

static double num_field(json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  return json_is_number(v) ? json_number_value(v) : 0;
}

int seer_sandbox_spec_load(const char *path, seer_sandbox_spec *spec, seer_error *err) {
  memset(spec, 0, sizeof *spec);
  json_error_t jerr;
  json_t *root = json_load_file(path, 0, &jerr);
  if (!root)
    return seer_errorf(err, SEER_EFORMAT, "sandbox spec '%s': %s at line %d", path, jerr.text,
                       jerr.line);
  spec->root = dup_field(root, "root");
  spec->hostname = dup_field(root, "hostname");
  spec->control = dup_field(root, "control");
  spec->network = json_is_true(json_object_get(root, "network"));
  spec->memory_bytes = (long long)num_field(root, "memory_bytes");
  spec->pids = (long long)num_field(root, "pids");
  spec->nofile = (long long)num_field(root, "nofile");
  spec->cpus = (int)num_field(root, "cpus");
  spec->timeout_s = num_field(root, "timeout");
  spec->tmp_bytes = (long long)num_field(root, "tmp_bytes");
  spec->disk_bytes = (long long)num_field(root, "disk_bytes");
  json_t *binds = json_object_get(root, "binds");
  size_t i;
  json_t *b;
  spec->binds = calloc(json_array_size(binds) + 1, sizeof *spec->binds);
  json_array_foreach(binds, i, b) {
    seer_sandbox_bind *d = &spec->binds[spec->nbinds];
    d->src = dup_field(b, "src");
    d->dst = dup_field(b, "dst");
    d->readonly = !json_is_false(json_object_get(b, "ro"));
    d->optional = json_is_true(json_object_get(b, "optional"));
    if (!d->src || !d->dst || d->dst[0] != '/') {
      json_decref(root);
      seer_sandbox_spec_free(spec);
      return seer_errorf(err, SEER_EINVAL, "sandbox spec: bind %zu needs absolute 'src' and 'dst'",
                         i + 1);
    }
    spec->nbinds++;
  }
  /* Device nodes (a GPU's /dev/nvidia*): bound after the sandbox's own /dev tmpfs, at a name
   * under /dev that is a plain file name, so a spec cannot place a device elsewhere. */
  json_t *devices = json_object_get(root, "devices");
  spec->devices = calloc(json_array_size(devices) + 1, sizeof *spec->devices);
  json_array_foreach(devices, i, b) {
    seer_sandbox_bind *d = &spec->devices[spec->ndevices];
    d->src = dup_field(b, "src");
    d->dst = dup_field(b, "dst");
    spec->ndevices++;
    if (!d->src || d->src[0] != '/' || !d->dst || !d->dst[0] || strchr(d->dst, '/') ||
        !strcmp(d->dst, ".") || !strcmp(d->dst, "..")) {
      json_decref(root);
      seer_sandbox_spec_free(spec);
      return seer_errorf(err, SEER_EINVAL,
                         "sandbox spec: device %zu needs an absolute 'src' and a file name 'dst'",
                         i + 1);
    }
  }
  json_t *links = json_object_get(root, "links");
  spec->links = calloc(json_array_size(links) + 1, sizeof *spec->links);
  json_array_foreach(links, i, b) {
    spec->links[spec->nlinks].path = dup_field(b, "path");
    spec->links[spec->nlinks].target = dup_field(b, "target");
    spec->nlinks++;
  }
  json_t *writable = json_object_get(root, "writable");
  spec->writable = calloc(json_array_size(writable) + 1, sizeof *spec->writable);
  json_array_foreach(writable, i, b) {
    if (json_is_string(b)) spec->writable[spec->nwritable++] = strdup(json_string_value(b));
  }
  json_decref(root);
  if (!spec->root || !spec->control || spec->control[0] != '/') {
    seer_sandbox_spec_free(spec);
    return seer_errorf(err, SEER_EINVAL,
                       "sandbox spec '%s': 'root' and an absolute 'control' path are required",
                       path);
  }
  return SEER_OK;
}

void seer_sandbox_spec_free(seer_sandbox_spec *spec) {
  for (size_t i = 0; i < spec->nbinds; i++) {
    free(spec->binds[i].src);
    free(spec->binds[i].dst);
  }
  for (size_t i = 0; i < spec->ndevices; i++) {
    free(spec->devices[i].src);
    free(spec->devices[i].dst);
  }
  free(spec->devices);
  for (size_t i = 0; i < spec->nlinks; i++) {
    free(spec->links[i].path);
    free(spec->links[i].target);
  }
  for (size_t i = 0; i < spec->nwritable; i++)
    free(spec->writable[i]);
  free(spec->binds);
  free(spec->links);
  free(spec->writable);
  free(spec->root);
  free(spec->hostname);
  free(spec->control);
  memset(spec, 0, sizeof *spec);
}
