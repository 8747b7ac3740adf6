"""bench/kernel: execute_request -> execute_reply round trip for `1+1` (p50 over N runs) and kernel
start to first kernel_info reply, for seer-lua's kernel and ipykernel, measured by the same
jupyter_client code in one run. Uses Debian's python3-jupyter-client and python3-ipykernel.
  usage: JUPYTER_PATH=<dir with kernels/seer-lua> python3 bench/kernel/roundtrip.py [N] [STARTS]

Two start figures per kernel, medians over STARTS starts:
  - exec -> reply: the kernel's own start. The kernel's argv (from its kernelspec) is started
    directly on a connection file; a client already connected asks kernel_info until it answers.
  - KernelManager -> reply: what a front end sees (jupyter_client's provisioner, connection file,
    process launch), on top of the kernel's own start.
Both clients' sockets retry connecting every 1 ms (ZeroMQ's default is 100 ms, which would floor
both kernels' figures at ~100 ms). The kernelspec manager never looks for the "native" ipykernel:
that lookup imports ipykernel and IPython in the client (a second or more), which the figure
published before this change mostly measured."""
import os
import statistics
import subprocess
import sys
import tempfile
import time

import zmq
import zmq.asyncio
from jupyter_client import BlockingKernelClient
from jupyter_client.connect import write_connection_file
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

N = int(sys.argv[1]) if len(sys.argv) > 1 else 300
STARTS = int(sys.argv[2]) if len(sys.argv) > 2 else 10
SPECS = KernelSpecManager(ensure_native_kernel=False)


def fast_context():
    ctx = zmq.asyncio.Context()  # what jupyter_client's clients are built on
    ctx.setsockopt(zmq.RECONNECT_IVL, 1)  # default for every socket made from it
    return ctx


def first_reply(kc, t0):
    """Ask kernel_info until the kernel answers; the seconds since t0."""
    while True:
        kc.kernel_info()
        try:
            kc.get_shell_msg(timeout=0.002)
            return time.perf_counter() - t0
        except Exception:
            continue


def exec_start(name, tmp, i):
    """Start the kernel's argv directly; seconds from exec to its first reply."""
    argv = SPECS.get_kernel_spec(name).argv
    fn, _ = write_connection_file(os.path.join(tmp, f"{name}-{i}.json"), ip="127.0.0.1")
    kc = BlockingKernelClient(connection_file=fn, context=fast_context())
    kc.load_connection_file()
    kc.start_channels()
    t0 = time.perf_counter()
    p = subprocess.Popen([a.replace("{connection_file}", fn) for a in argv],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    took = first_reply(kc, t0)
    kc.shutdown()
    # Reaped here (not by Popen) for its CPU time: start, one reply and shutdown, load-independent.
    deadline = time.monotonic() + 10
    while True:
        pid, _, usage = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            os.kill(p.pid, 9)
        time.sleep(0.005)
    p.returncode = 0
    kc.stop_channels()
    return took, usage.ru_utime + usage.ru_stime


def manager_start(name):
    km = KernelManager(kernel_name=name, kernel_spec_manager=SPECS)
    t0 = time.perf_counter()
    km.start_kernel()
    kc = km.client(context=fast_context())
    kc.start_channels()
    took = first_reply(kc, t0)
    return km, kc, took


def measure(name, code):
    with tempfile.TemporaryDirectory() as tmp:
        runs = [exec_start(name, tmp, i) for i in range(STARTS)]
    execs, cpu = [r[0] for r in runs], [r[1] for r in runs]
    print(f"  {name}: exec -> reply ms " + " ".join(f"{x * 1e3:.0f}" for x in execs), flush=True)
    managed = []
    for i in range(STARTS):
        km, kc, took = manager_start(name)
        managed.append(took)
        if i + 1 < STARTS:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    kc.wait_for_ready(timeout=60)
    for _ in range(20):  # warm up
        kc.execute(code)
        kc.get_shell_msg(timeout=30)
    times = []
    for _ in range(N):
        t = time.perf_counter()
        kc.execute(code)
        kc.get_shell_msg(timeout=30)
        times.append(time.perf_counter() - t)
    kc.stop_channels()
    km.shutdown_kernel(now=True)
    return statistics.median(execs), statistics.median(cpu), statistics.median(managed), statistics.median(times)


for label, name, code in (("seer-lua kernel", "seer-lua", "1+1"), ("ipykernel", "python3", "1+1")):
    ex, cpu, mgr, p50 = measure(name, code)
    print(f"{label:16s} exec -> reply {ex * 1e3:6.1f} ms (process CPU {cpu * 1e3:5.1f} ms), "
          f"KernelManager -> reply {mgr * 1e3:6.1f} ms, execute round trip p50 {p50 * 1e6:5.0f} us", flush=True)
    if name == "seer-lua":
        seer = (ex, p50)
    else:
        print(f"seer-lua / ipykernel: exec -> reply {seer[0] / ex:.3f} (target: seer-lua <= 100 ms), "
              f"round trip p50 {seer[1] / p50:.3f} (target <= 0.25)")
print(f"load average {os.getloadavg()[0]:.1f}")
