"""The live notebook in a browser: a notebook session (its kernel in a sandbox) serves its notebook
through Debian's Jupyter Notebook server (session.jupyter_url); headless Chromium, driven over the
DevTools protocol (--remote-debugging-pipe), opens it, sees the host's cell, runs a new cell that
draws a seer.plot chart, and the chart's image must appear in the page. A screenshot is kept in
the build directory (test-artifacts/notebook_browser.png).

Bounds on waiting are generous "does not hang" limits, never timing assertions."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

LUA = os.environ["SEER_LUA_BIN"]
SRC = os.environ["SEER_SOURCE_DIR"]
ARTIFACTS = os.path.join(os.environ["SEER_BUILD_DIR"], "test-artifacts")
CHROMIUM = shutil.which("chromium")
WAIT = 180  # seconds: the most any one step may take on a loaded machine

PLOT_CELL = ('seer.plot.line{y = {0.1, 0.4, 0.35, 0.8, 0.9}, title = "probe accuracy", '
             'xlabel = "layer", ylabel = "accuracy"}')


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


class DevTools:
    """The DevTools protocol over Chromium's --remote-debugging-pipe (fd 3 in, fd 4 out; JSON
    messages ended by NUL)."""

    def __init__(self, profile):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def child_fds():
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--disable-dev-shm-usage",
             "--remote-debugging-pipe", "--user-data-dir=" + profile, "--window-size=1200,900",
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            close_fds=False, preexec_fn=child_fds)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.next_id = 0
        self.buf = b""
        self.session = None

    def _read_message(self):
        while b"\0" not in self.buf:
            chunk = os.read(self.from_chrome, 1 << 16)
            if not chunk:
                fail("chromium closed its DevTools pipe (exit code %s)" % self.proc.poll())
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method, params=None, session=True):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read_message()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    fail("%s: %s" % (method, reply["error"]))
                return reply["result"]

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in r:
            return None
        return r["result"].get("value")

    def wait_for(self, what, expression):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.25)
        self.screenshot("notebook_browser_failed.png")
        fail("timed out waiting for " + what)

    def screenshot(self, name):
        import base64
        os.makedirs(ARTIFACTS, exist_ok=True)
        shot = self.call("Page.captureScreenshot", {"format": "png"})
        path = os.path.join(ARTIFACTS, name)
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        return path

    def close(self):
        try:
            self.call("Browser.close", session=False)
        except SystemExit:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def main():
    if not CHROMIUM:
        fail("chromium is not installed (Debian: apt-get install chromium; tools/install-deps.sh does)")
    if not os.path.exists("/usr/bin/jupyter-notebook"):
        fail("jupyter-notebook is not installed (Debian: apt-get install jupyter-notebook)")
    tmp = tempfile.mkdtemp(prefix="seer-browser-")
    stop = os.path.join(tmp, "stop")
    helper = subprocess.Popen([LUA, os.path.join(SRC, "tests", "python", "notebook_browser_session.lua"), stop],
                              stdout=subprocess.PIPE, text=True)
    browser = None
    try:
        url = notebook = None
        for line in helper.stdout:
            if line.startswith("URL "):
                url = line[4:].strip()
            elif line.startswith("NOTEBOOK "):
                notebook = line[9:].strip()
                break
        if not url:
            fail("the session printed no jupyter_url (exit code %s)" % helper.wait())
        assert url.startswith("http://127.0.0.1:") and "token=" in url, url

        browser = DevTools(os.path.join(tmp, "profile"))
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        browser.session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        browser.call("Page.enable")
        browser.call("Runtime.enable")
        browser.call("Page.navigate", {"url": url})
        # The notebook page, its kernel (the sandbox's, through the attach kernelspec) connected and idle.
        browser.wait_for("the notebook and its kernel", "typeof Jupyter !== 'undefined' && Jupyter.notebook "
                         "&& Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected() "
                         "&& document.body.classList.contains('notebook_app') "
                         "&& !!document.querySelector('#kernel_indicator_icon.kernel_idle_icon')")
        host_cell = browser.evaluate("Jupyter.notebook.get_cell(0).get_text()")
        if host_cell != "print('from the host')":
            fail("the notebook in the browser lacks the host's cell: %r" % (host_cell,))
        # The session's state is the browser's: custom_init_code ran in this kernel.
        browser.evaluate("var c = Jupyter.notebook.insert_cell_at_bottom('code'); c.set_text(%s); c.execute(); true"
                         % json.dumps("display(answer + 1)\n" + PLOT_CELL))
        images = browser.wait_for(
            "the plot in the page",
            "(function(){ var o = Jupyter.notebook.get_cell(Jupyter.notebook.ncells() - 1).output_area.element[0];"
            " var svg = o.querySelectorAll('.output_svg svg').length;"
            " var png = o.querySelectorAll('img[src^=\"data:image/png\"]').length;"
            " return (svg + png) > 0 ? {svg: svg, png: png} : null; })()")
        outputs = browser.evaluate(
            "JSON.stringify(Jupyter.notebook.get_cell(Jupyter.notebook.ncells() - 1).output_area.outputs)")
        outs = json.loads(outputs)
        mimes = set()
        for o in outs:
            mimes.update((o.get("data") or {}).keys())
        if not {"image/png", "image/svg+xml"} <= mimes:
            fail("the plot cell's outputs lack image/png and image/svg+xml: %s" % sorted(mimes))
        texts = [o.get("data", {}).get("text/plain") for o in outs]
        if "43" not in texts:
            fail("the cell should display 43 (answer + 1, custom_init_code having run in the sandbox kernel): %s" % texts)
        svg = browser.evaluate("(function(){ var s = Jupyter.notebook.get_cell(Jupyter.notebook.ncells() - 1)"
                               ".output_area.element[0].querySelector('.output_svg svg');"
                               " return s ? s.getBoundingClientRect().width : 0; })()")
        shot = browser.screenshot("notebook_browser.png")
        print("plot shown in the browser: %s (svg width %s px); screenshot %s" % (images, svg, shot))
        if images.get("svg") and not svg:
            fail("the plot's svg has no size in the page")
        if not os.path.exists(notebook):
            fail("the notebook file %s is gone" % notebook)
    finally:
        if browser:
            browser.close()
        open(stop, "w").close()
        try:
            helper.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            helper.kill()
            helper.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    if helper.returncode != 0:
        fail("the session helper exited with %s" % helper.returncode)
    print("ok")


if __name__ == "__main__":
    main()
