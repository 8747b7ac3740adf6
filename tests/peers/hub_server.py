"""A hub-like HTTP server on loopback for the seer.hub tests and bench/download.

Serves model repositories from local directories the way the Hugging Face hub does for
huggingface_hub and seer.hub: the model info API (/api/models/ID[/revision/REV]), the tree API
(/api/models/ID/tree/REV), and /ID/resolve/REV/FILE, which answers small files itself (ETag = the git
blob sha1) and redirects LFS files (*.safetensors, *.bin, anything of 10 MB or more) to a second
"storage" server (X-Linked-Etag = sha256, X-Linked-Size), which honours Range.

Faults are injected through POST /_faults (a JSON list of rules, each used `count` times, -1: always):
  {"kind": "status", "match": "...", "status": 401|403|404|500, "error_code": "GatedRepo"}
  {"kind": "drop", "match": "...", "after": BYTES}    storage GET: close the socket mid-body
  {"kind": "corrupt", "match": "..."}                 storage GET: one byte flipped, same headers
  {"kind": "stall", "match": "...", "seconds": S}     wait before answering
  {"kind": "bigheader", "match": "...", "bytes": N}   an N-byte header on the answer
  {"kind": "siblings", "names": [...]}                 extra file names in the model info
  {"kind": "etag", "match": "...", "etag": "..."}     a chosen X-Linked-Etag on HEAD
  {"kind": "size", "match": "...", "size": N}         a chosen X-Linked-Size on HEAD
  {"kind": "redirect", "match": "...", "location": "..."}  a chosen redirect on resolve
"match" is a substring of the request path; "method" (GET/HEAD) narrows it. GET /_stats returns the
requests seen ({"METHOD path": count}), how many storage requests carried an Authorization header
and the Range starts asked for ([[file, start]]);
POST /_reset clears faults and counters. Prints {"port": P, "storage_port": S} on its first line.

usage: hub_server.py --repo ORG/NAME=DIR [--repo ...] [--token TOKEN --gated ORG/NAME]
"""

import argparse
import hashlib
import json
import os
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LFS_EXT = (".safetensors", ".bin", ".gguf", ".pt")
LFS_MIN = 10 * 1000 * 1000


class Repo:
    def __init__(self, rid, root):
        self.id, self.root, self.files = rid, root, {}
        for dirpath, _, names in os.walk(root):
            for n in names:
                full = os.path.join(dirpath, n)
                rel = os.path.relpath(full, root)
                self.files[rel] = {"path": full, "size": os.path.getsize(full)}
        self._hashed = False
        self.commit = hashlib.sha1((rid + "|" + "|".join(sorted(self.files))).encode()).hexdigest()

    def meta(self, rel):
        f = self.files[rel]
        if "oid" not in f:
            h1, h256 = hashlib.sha1(), hashlib.sha256()
            h1.update(b"blob %d\0" % f["size"])
            with open(f["path"], "rb") as fh:
                while True:
                    b = fh.read(1 << 20)
                    if not b:
                        break
                    h1.update(b)
                    h256.update(b)
            f["oid"], f["sha256"] = h1.hexdigest(), h256.hexdigest()
            f["lfs"] = rel.endswith(LFS_EXT) or f["size"] >= LFS_MIN
        return f


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.faults, self.stats, self.storage_auth, self.ranges = [], {}, 0, []
        self.repos, self.by_sha = {}, {}
        self.token, self.gated = None, set()
        # Bumped by every /_reset: a request stalled by one test must not answer (and so take the
        # faults of) the next.
        self.generation = 0

    def take(self, kind, path, method):
        with self.lock:
            for f in self.faults:
                if f["kind"] != kind or f.get("count", 1) == 0:
                    continue
                if f.get("match") and f["match"] not in path:
                    continue
                if f.get("method") and f["method"] != method:
                    continue
                if f.get("count", 1) > 0:
                    f["count"] = f.get("count", 1) - 1
                return f
        return None


STATE = State()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    storage = False

    def log_message(self, *a):
        pass

    # ---- helpers ----
    def count(self):
        key = "%s %s%s" % (self.command, "storage:" if self.storage else "", urllib.parse.urlsplit(self.path).path)
        with STATE.lock:
            STATE.stats[key] = STATE.stats.get(key, 0) + 1
            if self.storage and self.headers.get("Authorization"):
                STATE.storage_auth += 1

    def send(self, status, body=b"", headers=None, ctype="application/json"):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, obj, headers=None):
        self.send(status, json.dumps(obj).encode(), headers)

    def common_faults(self, path):
        f = STATE.take("stall", path, self.command)
        if f:
            generation = STATE.generation
            time.sleep(f.get("seconds", 5))
            if STATE.generation != generation:
                self.close_connection = True  # its test is over: hang up, take no fault
                return True
        f = STATE.take("status", path, self.command)
        if f:
            h = {}
            if f.get("error_code"):
                h["X-Error-Code"] = f["error_code"]
            h["X-Error-Message"] = f.get("message", "injected %d" % f["status"])
            self.send_json(f["status"], {"error": h["X-Error-Message"]}, h)
            return True
        return False

    def extra_headers(self, path):
        f = STATE.take("bigheader", path, self.command)
        return {"X-Padding": "a" * f.get("bytes", 200000)} if f else {}

    def authorized(self, repo):
        if repo.id not in STATE.gated:
            return True
        return self.headers.get("Authorization") == "Bearer %s" % STATE.token

    def do_HEAD(self):
        self.route()

    def do_GET(self):
        self.route()

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        if self.path == "/_faults":
            with STATE.lock:
                STATE.faults.extend(json.loads(body))
            return self.send_json(200, {"ok": True})
        if self.path == "/_reset":
            with STATE.lock:
                STATE.faults, STATE.stats, STATE.storage_auth, STATE.ranges = [], {}, 0, []
                STATE.generation += 1
            return self.send_json(200, {"ok": True})
        self.send_json(404, {"error": "no such endpoint"})

    def route(self):
        self.count()
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        if self.storage:
            return self.serve_storage(path)
        if path == "/_stats":
            with STATE.lock:
                return self.send_json(200, {"requests": STATE.stats, "storage_auth": STATE.storage_auth,
                                            "ranges": STATE.ranges})
        if self.common_faults(path):
            return
        parts = path.strip("/").split("/")
        if len(parts) >= 3 and parts[0] == "api" and parts[1] == "models":
            return self.serve_api(parts[2:])
        if len(parts) >= 5 and parts[2] == "resolve":
            return self.serve_resolve(parts[0] + "/" + parts[1], parts[3], "/".join(parts[4:]))
        self.send_json(404, {"error": "not found"}, {"X-Error-Code": "RepoNotFound"})

    def find_repo(self, rid, rev):
        repo = STATE.repos.get(rid)
        if repo is None:
            self.send_json(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound",
                                                                  "X-Error-Message": "Repository not found"})
            return None
        if not self.authorized(repo):
            self.send_json(403 if self.headers.get("Authorization") else 401,
                           {"error": "Access to model %s is restricted" % rid},
                           {"X-Error-Code": "GatedRepo", "X-Error-Message": "Access to model %s is restricted" % rid})
            return None
        if rev is not None and rev not in ("main", repo.commit):
            self.send_json(404, {"error": "Invalid rev id: %s" % rev}, {"X-Error-Code": "RevisionNotFound",
                                                                       "X-Error-Message": "Invalid rev id"})
            return None
        return repo

    def serve_api(self, rest):
        rid = "/".join(rest[:2])
        rev, tree = None, None
        if len(rest) >= 4 and rest[2] == "revision":
            rev = "/".join(rest[3:])
        elif len(rest) >= 4 and rest[2] == "tree":
            rev, tree = rest[3], "/".join(rest[4:])
        repo = self.find_repo(rid, rev)
        if repo is None:
            return
        if tree is not None:
            out, dirs = [], set()
            for rel in sorted(repo.files):
                if tree and not rel.startswith(tree + "/"):
                    continue
                m = repo.meta(rel)
                d = os.path.dirname(rel)
                while d and d not in dirs:
                    dirs.add(d)
                    out.append({"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(), "path": d})
                    d = os.path.dirname(d)
                e = {"type": "file", "oid": m["oid"], "size": m["size"], "path": rel}
                if m["lfs"]:
                    e["lfs"] = {"oid": m["sha256"], "size": m["size"], "pointerSize": 134}
                out.append(e)
            return self.send_json(200, out)
        names = sorted(repo.files)
        f = STATE.take("siblings", "/api", self.command)
        if f:
            names = names + list(f["names"])
        self.send_json(200, {
            "_id": repo.commit[:24], "id": rid, "modelId": rid, "sha": repo.commit, "private": False,
            "gated": "auto" if rid in STATE.gated else False, "disabled": False, "downloads": 0, "likes": 0,
            "tags": [], "lastModified": "2024-01-01T00:00:00.000Z", "createdAt": "2024-01-01T00:00:00.000Z",
            "siblings": [{"rfilename": n} for n in names]})

    def serve_resolve(self, rid, rev, rel):
        repo = self.find_repo(rid, rev)
        if repo is None:
            return
        if rel not in repo.files:
            return self.send_json(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound",
                                                                   "X-Error-Message": "Entry not found"})
        m = repo.meta(rel)
        h = {"X-Repo-Commit": repo.commit, "Accept-Ranges": "bytes"}
        h.update(self.extra_headers(rel))
        f = STATE.take("redirect", rel, self.command)
        if f:
            h["Location"] = f["location"]
            return self.send(302, b"", h)
        if m["lfs"]:
            port = self.server.storage_port
            h["ETag"] = '"%s"' % hashlib.sha1(m["sha256"].encode()).hexdigest()
            f = STATE.take("etag", rel, self.command)
            h["X-Linked-Etag"] = '"%s"' % (f["etag"] if f else m["sha256"])
            f = STATE.take("size", rel, self.command)
            h["X-Linked-Size"] = str(f["size"] if f else m["size"])
            # Another host name, as the hub's CDN: clients do not follow it for metadata or send it the token.
            h["Location"] = "http://localhost:%d/lfs/%s?name=%s" % (port, m["sha256"], urllib.parse.quote(rel))
            return self.send(302, b"", h)
        h["ETag"] = '"%s"' % m["oid"]
        with open(m["path"], "rb") as fh:
            data = fh.read()
        self.send(200, data, h, ctype="application/octet-stream")

    def serve_storage(self, path):
        sha = path.rsplit("/", 1)[-1]
        target = STATE.by_sha.get(sha)
        if not path.startswith("/lfs/") or target is None:
            return self.send_json(404, {"error": "no such object"})
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        name = (q.get("name") or [""])[0]
        if self.common_faults(name):
            return
        size = os.path.getsize(target)
        start = 0
        rng = self.headers.get("Range")
        status = 200
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            with STATE.lock:
                STATE.ranges.append([name, start])
            if start >= size:
                return self.send(416, b"", {"Content-Range": "bytes */%d" % size})
            status = 206
        drop = STATE.take("drop", name, self.command)
        corrupt = STATE.take("corrupt", name, self.command)
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size - start))
        self.send_header("ETag", '"%s"' % sha)
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, size - 1, size))
        self.end_headers()
        if self.command == "HEAD":
            return
        with open(target, "rb") as fh:
            if drop or corrupt:
                fh.seek(start)
                data = bytearray(fh.read())
                if corrupt and data:
                    data[len(data) // 2] ^= 0xFF
                if drop:
                    data = data[: drop.get("after", len(data) // 2)]
                self.wfile.write(bytes(data))
                self.wfile.flush()
                if drop:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                return
            self.wfile.flush()
            off, left = start, size - start
            while left > 0:
                n = os.sendfile(self.connection.fileno(), fh.fileno(), off, min(left, 1 << 24))
                if n <= 0:
                    break
                off += n
                left -= n


class StorageHandler(Handler):
    storage = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", action="append", default=[])
    ap.add_argument("--token")
    ap.add_argument("--gated", action="append", default=[])
    a = ap.parse_args()
    for spec in a.repo:
        rid, d = spec.split("=", 1)
        STATE.repos[rid] = Repo(rid, d)
    STATE.token, STATE.gated = a.token, set(a.gated)
    for repo in STATE.repos.values():
        for rel in repo.files:
            m = repo.meta(rel)
            if m["lfs"]:
                STATE.by_sha[m["sha256"]] = m["path"]
    storage = ThreadingHTTPServer(("127.0.0.1", 0), StorageHandler)
    hub = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    storage.daemon_threads = hub.daemon_threads = True
    hub.storage_port = storage.server_address[1]
    threading.Thread(target=storage.serve_forever, daemon=True).start()
    print(json.dumps({"port": hub.server_address[1], "storage_port": storage.server_address[1]}), flush=True)
    try:
        hub.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
