"""seer.hub and the real huggingface_hub (PyPI) share one cache, against the same hub-like server.

- what huggingface_hub.snapshot_download writes, seer-lua reads offline (and loads as a model);
- what seer-lua writes, huggingface_hub reads offline (HF_HUB_OFFLINE=1 snapshot_download) and
  scan_cache_dir lists with no warnings;
- in one cache, neither fetches a file the other already has;
- a blob lock taken by huggingface_hub's filelock makes seer.hub wait, as Python's own clients do.
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

SRC = os.environ.get("SEER_SOURCE_DIR", os.getcwd())
LUA = os.environ.get("SEER_LUA_BIN", os.path.join(SRC, "build", "seer-lua"))
FIX = os.environ.get("SEER_FIXTURES", os.path.join(SRC, "tests", "fixtures"))


def start_server():
    p = subprocess.Popen([sys.executable, os.path.join(SRC, "tests/peers/hub_server.py"),
                          "--repo", "org/llama=" + os.path.join(FIX, "models/llama"),
                          "--repo", "org/qwen=" + os.path.join(FIX, "models/qwen3")],
                         stdout=subprocess.PIPE, text=True)
    info = json.loads(p.stdout.readline())
    return p, "http://127.0.0.1:%d" % info["port"]


def stats(url):
    with urllib.request.urlopen(url + "/_stats") as r:
        return json.load(r)["requests"]


def reset(url):
    urllib.request.urlopen(urllib.request.Request(url + "/_reset", data=b"", method="POST")).read()


def fetched(url, needle):
    return sum(n for k, n in stats(url).items() if k.startswith("GET") and needle in k)


def seer(cache, home, url, script, offline=False):
    env = dict(os.environ, HF_HUB_CACHE=cache, HF_HOME=home, HF_ENDPOINT=url)
    env.pop("HF_TOKEN", None)
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    r = subprocess.run([LUA, "-e", script], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def main():
    server, url = start_server()
    tmp = tempfile.mkdtemp(prefix="seer-hub-interop-")
    cache, home = os.path.join(tmp, "hub"), os.path.join(tmp, "home")
    os.environ.update(HF_HUB_CACHE=cache, HF_HOME=home, HF_ENDPOINT=url, HF_HUB_DISABLE_TELEMETRY="1",
                      HF_HUB_DISABLE_PROGRESS_BARS="1", HF_HUB_DISABLE_XET="1")
    os.environ.pop("HF_TOKEN", None)
    import huggingface_hub as hh  # after the environment: it reads it at import

    try:
        patterns = ["*.json", "*.safetensors", "tokenizer*"]
        # 1. Python writes, seer-lua reads (offline) and loads.
        py_snap = hh.snapshot_download("org/llama", allow_patterns=patterns)
        out = seer(cache, home, url, "print(require('seer.hub').model_path('org/llama'))", offline=True)
        assert out == py_snap, (out, py_snap)
        out = seer(cache, home, url, "print(require('seer').model.load('org/llama').num_layers)", offline=True)
        assert out == "3", out

        # 2. Same cache, online: seer-lua finds every file there and fetches none.
        reset(url)
        out = seer(cache, home, url, "print(require('seer.hub').download('org/llama', {quiet = true}))")
        assert out == py_snap, (out, py_snap)
        assert fetched(url, "/resolve/") == 0 and fetched(url, "storage:") == 0, stats(url)

        # 3. seer-lua writes, Python reads offline.
        reset(url)
        lua_snap = seer(cache, home, url, "print(require('seer.hub').download('org/qwen', {quiet = true}))")
        assert fetched(url, "storage:") >= 1, stats(url)
        r = subprocess.run([sys.executable, "-c", (
            "import huggingface_hub as hh; "
            "print(hh.snapshot_download('org/qwen', allow_patterns=%r))" % patterns)],
            capture_output=True, text=True, env=dict(os.environ, HF_HUB_OFFLINE="1"), timeout=120)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == lua_snap, (r.stdout, lua_snap)

        # 4. scan_cache_dir sees both repositories, whole, with no warnings.
        info = hh.scan_cache_dir(cache)
        assert not info.warnings, info.warnings
        repos = {r.repo_id: r for r in info.repos}
        assert set(repos) == {"org/llama", "org/qwen"}, repos
        for rid, src in (("org/llama", "models/llama"), ("org/qwen", "models/qwen3")):
            want = sum(os.path.getsize(os.path.join(FIX, src, f)) for f in os.listdir(os.path.join(FIX, src))
                       if f.endswith((".json", ".safetensors")) or f.startswith("tokenizer"))
            assert repos[rid].size_on_disk == want, (rid, repos[rid].size_on_disk, want)
            (rev,) = repos[rid].revisions
            assert rev.refs == frozenset({"main"}), rev.refs

        # 5. Python online in the cache seer-lua wrote: nothing is downloaded again.
        reset(url)
        r = subprocess.run([sys.executable, "-c", (
            "import huggingface_hub as hh; print(hh.snapshot_download('org/qwen', allow_patterns=%r))" % patterns)],
            capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == lua_snap, (r.stdout, lua_snap)
        assert fetched(url, "/resolve/") == 0 and fetched(url, "storage:") == 0, stats(url)

        # 6. A blob lock held through huggingface_hub's own WeakFileLock (filelock's flock) makes
        #    seer.hub wait; once it is released without the blob, seer.hub fetches the blob itself.
        from huggingface_hub.utils import WeakFileLock
        cache2 = os.path.join(tmp, "hub2")
        sha = hashlib.sha256(open(os.path.join(FIX, "models/llama/model.safetensors"), "rb").read()).hexdigest()
        lock = os.path.join(cache2, ".locks", "models--org--llama", sha + ".lock")
        os.makedirs(os.path.dirname(lock))
        reset(url)
        with WeakFileLock(lock):
            env = dict(os.environ, HF_HUB_CACHE=cache2, HF_HOME=home, HF_ENDPOINT=url)
            proc = subprocess.Popen([LUA, "-e", "print(require('seer.hub').download('org/llama'))"], env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            waited = []
            for line in proc.stderr:
                waited.append(line)
                if "waiting for another process that is downloading model.safetensors" in line:
                    break
            assert waited and "waiting" in waited[-1], waited
            assert not os.path.exists(os.path.join(cache2, "models--org--llama", "blobs", sha))
            assert fetched(url, "storage:/lfs/" + sha) == 0, stats(url)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        with open(os.path.join(out.strip(), "model.safetensors"), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == sha
        assert fetched(url, "storage:/lfs/" + sha) == 1, stats(url)
        print("hub interop: ok")
    finally:
        server.kill()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
