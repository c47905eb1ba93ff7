#!/usr/bin/env python3
"""The attacks of issue 12 (items 2-6 and 11) against a real `sandkasse serve --demo`, one at a
time, each for a bounded time, while a separate probe process measures `/v2/health/live` and
the memory of the service and its workers. Called by `benches/attacks.sh`, which builds the
release binary and cleans up; see there for the environment variables.

Why a separate probe process: the attacks run in this process and would otherwise hold the
interpreter lock while the probe tries to time a request, so the probe would measure Python,
not the service.

Only the standard library: it must run wherever the service's tests run.
"""

import argparse
import csv
import http.client
import json
import os
import re
import resource
import select
import shlex
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------------------------
# /proc: the service's process tree, its memory and CPU
# --------------------------------------------------------------------------------------------

def proc_table():
    """pid -> (ppid, pgid, rss bytes, cpu seconds, starttime) for every readable process."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read().decode("latin-1")
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces: split after the last ')'.
        rest = stat[stat.rfind(")") + 2:].split()
        ppid, pgid = int(rest[1]), int(rest[2])
        cpu = (int(rest[11]) + int(rest[12])) / TICKS
        children_cpu = (int(rest[13]) + int(rest[14])) / TICKS  # reaped children
        start = int(rest[19])
        rss = int(rest[21]) * PAGE
        table[int(name)] = (ppid, pgid, rss, cpu, start, children_cpu)
    return table


def descendants(root, table=None):
    """The pids of `root` and everything below it."""
    table = table if table is not None else proc_table()
    children = {}
    for pid, row in table.items():
        children.setdefault(row[0], []).append(pid)
    out, todo = [], [root] if root in table else []
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


# --------------------------------------------------------------------------------------------
# The probe (its own process): live latency on fresh and keep-alive connections, memory, CPU
# --------------------------------------------------------------------------------------------

# The probe connects from another loopback address than the attacker (127.0.0.1), as a monitor
# is another client than the one flooding the service: per-address limits must hold the attacker
# back without holding back everyone else.
PROBE_ADDRESS = "127.0.0.2"


def probe_main(args):
    stop = threading.Event()
    lock = threading.Lock()
    fresh, keep = [], []  # (latency seconds or None for a failure)
    samples = []  # (t, rss total, processes)
    # Worker CPU over the window = what the server reaped meanwhile (its children's time) + the
    # change in the CPU of the descendants alive at the end - the CPU of those alive at the start
    # (sampling alone would miss a killed worker's last 200 ms).
    cpu_first, cpu_last = {}, {}  # (pid, start) -> cpu seconds, descendants other than the server
    server_cpu = [None, None]
    reaped = [None, None]
    seen = set()  # every descendant process seen: how many workers the attack made the server start
    timeout = args.timeout

    def one_fresh():
        t0 = time.perf_counter()
        ok = False
        try:
            c = http.client.HTTPConnection("127.0.0.1", args.port, timeout=timeout, source_address=(PROBE_ADDRESS, 0))
            c.request("GET", "/v2/health/live", headers={"Connection": "close"})
            r = c.getresponse()
            r.read()
            ok = r.status == 200
            c.close()
        except (OSError, http.client.HTTPException):
            ok = False
        dt = time.perf_counter() - t0
        with lock:
            fresh.append(dt if ok and dt < timeout else None)

    def fresh_loop():
        period = 1.0 / args.rate
        nxt = time.perf_counter()
        while not stop.is_set():
            threading.Thread(target=one_fresh, daemon=True).start()
            nxt += period
            time.sleep(max(0.0, nxt - time.perf_counter()))

    def keep_loop():
        period = 1.0 / args.rate
        conn = None
        nxt = time.perf_counter()
        while not stop.is_set():
            t0 = time.perf_counter()
            ok = False
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=timeout, source_address=(PROBE_ADDRESS, 0))
                conn.request("GET", "/v2/health/live")
                r = conn.getresponse()
                r.read()
                ok = r.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
            dt = time.perf_counter() - t0
            if not ok and conn is not None:
                conn.close()
                conn = None
            with lock:
                keep.append(dt if ok and dt < timeout else None)
            nxt += period
            time.sleep(max(0.0, nxt - time.perf_counter()))

    def memory_loop():
        t_start = time.perf_counter()
        while not stop.is_set():
            table = proc_table()
            pids = descendants(args.pid, table)
            if pids:
                rss = sum(table[p][2] for p in pids)
                samples.append((time.perf_counter() - t_start, rss, len(pids)))
                last = {}
                for p in pids:
                    _, _, _, cpu, start, children = table[p]
                    if p == args.pid:
                        if server_cpu[0] is None:
                            server_cpu[0], reaped[0] = cpu, children
                        server_cpu[1], reaped[1] = cpu, children
                        continue
                    if len(samples) == 1:
                        cpu_first[(p, start)] = cpu
                    seen.add((p, start))
                    last[(p, start)] = cpu
                cpu_last.clear()
                cpu_last.update(last)
            time.sleep(0.2)

    threads = [threading.Thread(target=f, daemon=True) for f in (fresh_loop, keep_loop, memory_loop)]
    for t in threads:
        t.start()
    sys.stdin.read()  # the caller closes our stdin to stop us
    stop.set()
    for t in threads:
        t.join(timeout + 1)
    time.sleep(min(timeout, 0.5))
    with lock:
        out = {
            "fresh": fresh,
            "keepalive": keep,
            "rss_peak": max((s[1] for s in samples), default=0),
            "rss_last": samples[-1][1] if samples else 0,
            "procs_peak": max((s[2] for s in samples), default=0),
            "rss_series": [(round(t, 2), r) for t, r, _ in samples],
            "worker_cpu_s": ((reaped[1] - reaped[0]) if reaped[0] is not None else 0.0)
            + sum(cpu_last.values()) - sum(cpu_first.values()),
            "server_cpu_s": (server_cpu[1] - server_cpu[0]) if server_cpu[0] is not None else 0.0,
            "workers_started": len(seen - set(cpu_first)),
        }
    try:
        json.dump(out, sys.stdout)
    except BrokenPipeError:  # the driver is gone (interrupted): nobody to tell
        pass


class Probe:
    def __init__(self, port, pid, rate, timeout):
        self.p = subprocess.Popen(
            [sys.executable, __file__, "probe", "--port", str(port), "--pid", str(pid),
             "--rate", str(rate), "--timeout", str(timeout)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def stop(self):
        out, _ = self.p.communicate(timeout=30)
        return json.loads(out)


def latency_stats(values):
    """p50, p99 and max in ms over every attempt, a failure counting as infinitely slow."""
    if not values:
        return {"n": 0, "fail": 0, "p50": None, "p99": None, "max": None}
    inf = float("inf")
    xs = sorted(v if v is not None else inf for v in values)

    def q(p):
        return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]
    ok = [v for v in values if v is not None]
    return {"n": len(xs), "fail": len(xs) - len(ok), "p50": q(0.50) * 1e3, "p99": q(0.99) * 1e3,
            "max": max(ok) * 1e3 if ok else None}


# --------------------------------------------------------------------------------------------
# The service
# --------------------------------------------------------------------------------------------

DEMO_LINE = re.compile(r"^\s*demo (\w+)\s+(.+?)\s+\((.+)\): (\S+)\s*$")
LISTEN_LINE = re.compile(r"listening on http://([0-9.]+):(\d+)/")


class Server:
    """`sandkasse serve --demo` on a free port in a fresh data directory, with its process group
    (workers included) killed on the way out."""

    def __init__(self, ctx, name, extra_flags=()):
        self.ctx = ctx
        self.name = name
        self.dir = os.path.join(ctx.work, name)
        os.makedirs(self.dir, exist_ok=False)
        self.log_path = os.path.join(ctx.logs, f"{name}.log")
        flags = ["serve", "--demo", "--data-dir", os.path.join(self.dir, "data"),
                 "--bind", "127.0.0.1:0", *extra_flags, *ctx.serve_flags]
        self.argv = [ctx.bin, *flags]
        nofile = ctx.server_nofile

        def limits():
            if nofile:
                soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
                resource.setrlimit(resource.RLIMIT_NOFILE, (min(nofile, hard), hard))
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=limits)
        ctx.register(self.proc.pid)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self):
        self.tokens = {}
        self.port = None
        deadline = time.time() + 60
        while time.time() < deadline:
            text = open(self.log_path).read()
            m = LISTEN_LINE.search(text)
            if m:
                self.port = int(m.group(2))
                for line in text.splitlines():
                    d = DEMO_LINE.match(line)
                    if d:
                        self.tokens[d.group(2)] = d.group(4)
                if len(self.tokens) >= 5 or "try:" in text:
                    break
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}); see {self.log_path}:\n{text[-2000:]}")
            time.sleep(0.1)
        if not self.port or not self.tokens:
            raise RuntimeError(f"no address or demo tokens from the server; see {self.log_path}")
        self.vendor = self.tokens["Niels Nordlys"]
        self.vendor2 = self.tokens["Frida Fjord"]
        self.admin = self.tokens["Adam Admin"]
        self.db = os.path.join(self.dir, "data", "sandkasse.db")

    # -- HTTP helpers -------------------------------------------------------------------------
    def request(self, method, path, token=None, body=None, ctype="application/json", timeout=30):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            headers["Content-Type"] = ctype
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
        try:
            c.request(method, path, body=body, headers=headers)
            r = c.getresponse()
            data = r.read()
            return r.status, data
        finally:
            c.close()

    def get_json(self, path, token):
        status, data = self.request("GET", path, token)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {data[:300]!r}")
        return json.loads(data)

    def cases(self, token):
        v = self.get_json("/api/v1/cases", token)
        return v["cases"] if isinstance(v, dict) else v

    def models(self, token):
        out = []
        for c in self.cases(token):
            v = self.get_json(f"/api/v1/cases/{c['id']}/models", token)
            for m in (v["models"] if isinstance(v, dict) else v):
                out.append(m)
        return out

    def upload(self, token, case_id, onnx, manifest):
        boundary = "attacks-" + uuid.uuid4().hex
        body = b""
        for field, path in (("model", onnx), ("manifest", manifest)):
            body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
                     f"filename=\"{os.path.basename(path)}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
            body += open(path, "rb").read() + b"\r\n"
        body += f"--{boundary}--\r\n".encode()
        return self.request("POST", f"/api/v1/cases/{case_id}/models", token, body,
                            ctype=f"multipart/form-data; boundary={boundary}", timeout=120)

    def audit_rows(self):
        try:
            con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
            try:
                return con.execute("SELECT count(*) FROM audit").fetchone()[0]
            finally:
                con.close()
        except sqlite3.Error as e:
            print(f"    (audit count failed: {e})", flush=True)
            return None

    def db_bytes(self):
        return sum(os.path.getsize(self.db + s) for s in ("", "-wal", "-shm") if os.path.exists(self.db + s))

    # -- stop ---------------------------------------------------------------------------------
    def stop(self):
        """SIGTERM, then SIGKILL to the process group and to every descendant seen; returns the
        seconds until the server itself exited (or None when it had to be killed)."""
        pid = self.proc.pid
        before = set(descendants(pid))
        took = None
        if self.proc.poll() is None:
            t0 = time.perf_counter()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(self.ctx.stop_wait)
                took = time.perf_counter() - t0
            except subprocess.TimeoutExpired:
                pass
        # Workers that outlived the server (or that it never reaped) are ours to end too.
        left = {p for p, row in proc_table().items() if row[1] == pid} | before
        left.discard(os.getpid())
        for p in left:
            try:
                os.kill(p, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        self.ctx.unregister(pid)
        self.log.close()
        return took


# --------------------------------------------------------------------------------------------
# Inputs for /v2
# --------------------------------------------------------------------------------------------

def v2_inputs(ctx, server, token, model_id, rows):
    """A real inference request body's `inputs` for `rows` citizens of the model's scenario."""
    meta = server.get_json(f"/v2/models/{model_id}", token)
    model = server.get_json(f"/api/v1/models/{model_id}", token)
    table = ctx.rows(model["scenario"])
    n = len(table)
    inputs = []
    for i in meta["inputs"]:
        col = [table[k % n][i["name"]] for k in range(rows)]
        if i["datatype"] == "BYTES":
            data = col
        else:
            data = [float({"true": 1.0, "false": 0.0}.get(v.lower(), v) if v != "" else 0.0) for v in col]
        inputs.append({"name": i["name"], "shape": [rows], "datatype": i["datatype"], "data": data})
    return inputs


def post_stream(port, path, token, body, timeout):
    """POSTs and reads the answer in chunks, keeping only its size: (status, bytes, seconds)."""
    t0 = time.perf_counter()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", path, body=body, headers={"Authorization": f"Bearer {token}",
                                                    "Content-Type": "application/json"})
        r = c.getresponse()
        n = 0
        while True:
            chunk = r.read(1 << 20)
            if not chunk:
                break
            n += len(chunk)
        return r.status, n, time.perf_counter() - t0
    except (OSError, http.client.HTTPException) as e:
        return type(e).__name__, 0, time.perf_counter() - t0
    finally:
        c.close()


def count(statuses):
    out = {}
    for s in statuses:
        out[str(s)] = out.get(str(s), 0) + 1
    return ", ".join(f"{k}: {v}" for k, v in sorted(out.items()))


# --------------------------------------------------------------------------------------------
# The attacks: each returns (figures dict, one-line summary)
# --------------------------------------------------------------------------------------------

def attack_idle(ctx, srv, secs):
    time.sleep(secs)
    return {}, "no attack: the probe alone"


def attack_amplification(ctx, srv, secs):
    """Item 2: one /v2 request naming the output `probability` thousands of times."""
    model = next(m for m in srv.models(srv.vendor) if m["name"] == "unemployment-logreg")
    rows, repeats = ctx.amp_rows, ctx.amp_repeats
    body = json.dumps({"inputs": v2_inputs(ctx, srv, srv.vendor, model["id"], rows),
                       "outputs": [{"name": "probability"}] * repeats}).encode()
    path = f"/v2/models/{model['id']}/infer"
    results = []
    end = time.time() + secs
    while time.time() < end:
        results.append(post_stream(srv.port, path, srv.vendor, body, timeout=max(5.0, end - time.time() + 30)))
    biggest = max((r[1] for r in results), default=0)
    figures = {"request_bytes": len(body), "requests": len(results), "statuses": count(r[0] for r in results),
               "response_bytes_max": biggest, "response_bytes_total": sum(r[1] for r in results),
               "amplification": biggest / len(body), "seconds_per_request": statistics.mean(r[2] for r in results)}
    return figures, (f"request {len(body) / 1e6:.2f} MB ({rows} rows, `probability` x{repeats}); "
                     f"largest answer {biggest / 1e6:.1f} MB (x{biggest / len(body):.0f}); "
                     f"{len(results)} requests [{figures['statuses']}]")


SAMPLES = {  # sample model stem -> (vendor, case index in the demo)
    "unemployment-gbm": ("vendor", 0), "unemployment-logreg": ("vendor", 0),
    "unemployment-mlp": ("vendor", 0), "unemployment-logreg-zipmap": ("vendor", 0),
    "rehabilitation-gbm": ("vendor2", 1), "rehabilitation-logreg": ("vendor2", 1),
}


def demo_cases(srv):
    cases = srv.cases(srv.admin)
    unemp = next(c for c in cases if "ledighed" in c["name"])
    rehab = next(c for c in cases if "ldre" in c["name"])
    return unemp, rehab


def attack_memory(ctx, srv, secs):
    """Item 3: every sample model live at once (both workers of each busy), then idle."""
    cases = demo_cases(srv)
    present = {m["name"] for m in srv.models(srv.admin)}
    refused = []
    for stem, (who, case) in SAMPLES.items():
        if stem in present:
            continue
        onnx = os.path.join(ctx.root, "models", f"{stem}.onnx")
        if not os.path.exists(onnx):
            continue
        st, data = srv.upload(getattr(srv, who), cases[case]["id"], onnx, onnx[:-5] + ".toml")
        if st != 201 and st != 200:
            refused.append(f"{stem}: {st}")
    targets = []
    for who in ("vendor", "vendor2"):
        token = getattr(srv, who)
        for m in srv.models(token):
            if m["name"] in SAMPLES and SAMPLES[m["name"]][0] == who:
                targets.append((token, m["id"], json.dumps(
                    {"inputs": v2_inputs(ctx, srv, token, m["id"], ctx.mem_rows)}).encode()))
    statuses = []
    busy_until = time.time() + secs / 2
    end = time.time() + secs

    def hammer(t):
        token, mid, body = t
        while time.time() < busy_until:
            statuses.append(post_stream(srv.port, f"/v2/models/{mid}/infer", token, body, 60)[0])
    with ThreadPoolExecutor(len(targets) * 2) as pool:
        list(pool.map(hammer, targets * 2))
    busy = proc_table()
    rss_busy_end = sum(busy[p][2] for p in descendants(srv.proc.pid, busy))
    time.sleep(max(0.0, end - time.time()))
    table = proc_table()
    pids = descendants(srv.proc.pid, table)
    idle = sum(table[p][2] for p in pids)
    figures = {"live_models": len(targets), "rows_per_request": ctx.mem_rows, "requests": len(statuses),
               "statuses": count(statuses), "uploads_refused": refused, "processes_idle": len(pids),
               "rss_idle": idle, "rss_busy_end": rss_busy_end}
    return figures, (f"{len(targets)} models live ({ctx.mem_rows} rows a request, 2 callers each, "
                     f"{len(statuses)} requests [{figures['statuses']}]); after {secs - secs // 2} s idle: "
                     f"{idle / 2**20:.0f} MiB in {len(pids)} processes")


def attack_slow_connections(ctx, srv, secs):
    """Item 4: connections that send half a header and wait, and idle keep-alive ones."""
    half = b"GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
    socks, failed = [], 0
    lock = threading.Lock()

    def open_one(kind):
        nonlocal failed
        try:
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=2)
            if kind == "slow":
                s.sendall(half)
            else:
                s.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                s.settimeout(2)
                s.recv(65536)  # the answer; then the connection stays open, idle
            s.setblocking(False)
            with lock:
                socks.append((kind, s))
        except OSError:
            with lock:
                failed += 1
    t0 = time.time()
    kinds = ["slow"] * ctx.slow_conns + ["idle"] * ctx.idle_conns
    with ThreadPoolExecutor(64) as pool:
        list(pool.map(open_one, kinds))
    opened = time.time() - t0
    time.sleep(max(0.0, secs - opened))
    closed = {"slow": 0, "idle": 0}
    for kind, s in socks:
        try:
            poller = select.poll()
            poller.register(s, select.POLLIN | select.POLLHUP | select.POLLERR)
            if poller.poll(0) and not s.recv(65536):
                closed[kind] += 1
        except OSError:
            closed[kind] += 1
    for _, s in socks:
        s.close()
    figures = {"slow": ctx.slow_conns, "idle": ctx.idle_conns, "open_failed": failed,
               "opened_in_s": opened, "closed_by_server": closed}
    return figures, (f"{ctx.slow_conns} half-header + {ctx.idle_conns} idle keep-alive connections held "
                     f"{secs} s ({failed} could not connect); closed by the server by the end: "
                     f"{closed['slow']} half-header, {closed['idle']} idle")


def attack_anonymous(ctx, srv, secs):
    """Item 5: a flood of requests with a wrong bearer token; audit rows added, verify's memory."""
    before, db_before = srv.audit_rows(), srv.db_bytes()
    # A state-changing request: those are the ones the middleware audits, refused or not.
    url = f"http://127.0.0.1:{srv.port}/api/v1/cases"
    wrong = "Bearer " + "0" * 64
    body = json.dumps({"name": "flood"})
    if ctx.wrk:
        lua = os.path.join(srv.dir, "flood.lua")
        with open(lua, "w") as f:
            f.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
                    f'wrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "{wrong}"\n')
        out = subprocess.run([ctx.wrk, "-t2", f"-c{ctx.flood_conns}", f"-d{secs}s", "-s", lua, url],
                             capture_output=True, text=True, timeout=secs + 60).stdout
        total = re.search(r"(\d+) requests in", out)
        sent = int(total.group(1)) if total else 0
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        errors = re.search(r"Socket errors: (.*)", out)
        how = f"wrk, {ctx.flood_conns} connections"
        detail = f"non-2xx {non2xx.group(1) if non2xx else 0}" + (f"; socket errors {errors.group(1)}" if errors else "")
    else:
        sent, statuses = 0, []
        end = time.time() + secs

        def flood():
            nonlocal sent
            c = None
            while time.time() < end:
                try:
                    c = c or http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
                    c.request("POST", "/api/v1/cases", body=body,
                              headers={"Authorization": wrong, "Content-Type": "application/json"})
                    r = c.getresponse()
                    r.read()
                    statuses.append(r.status)
                except (OSError, http.client.HTTPException) as e:
                    statuses.append(type(e).__name__)
                    c = None
                sent += 1
        threads = [threading.Thread(target=flood) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        how, detail = "8 Python threads", count(statuses)
    time.sleep(1)
    after, db_after = srv.audit_rows(), srv.db_bytes()
    added = (after - before) if after is not None and before is not None else None
    # `audit verify` over the chain this left, as an operator would run it: its peak memory.
    t0 = time.perf_counter()
    v = subprocess.Popen([ctx.bin, "audit", "verify", "--data-dir", os.path.join(srv.dir, "data")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctx.register(v.pid)
    try:
        _, status, usage = os.wait4(v.pid, 0)
    finally:
        ctx.unregister(v.pid)
    verify_s = time.perf_counter() - t0
    figures = {"requests": sent, "rate": sent / secs, "audit_rows_added": added, "db_bytes_added": db_after - db_before,
               "verify_max_rss": usage.ru_maxrss * 1024, "verify_s": verify_s,
               "verify_exit": os.waitstatus_to_exitcode(status), "detail": detail}
    return figures, (f"{sent} refused `POST /api/v1/cases` ({sent / secs:.0f}/s, {how}; {detail}); audit rows added: {added}; "
                     f"database +{(db_after - db_before) / 2**20:.1f} MiB; `audit verify` afterwards: "
                     f"{usage.ru_maxrss / 1024:.0f} MiB peak, {verify_s:.1f} s")


def attack_run_queue(ctx, srv, secs):
    """Item 6: one vendor queues many big runs; another organisation's run must still start."""
    mine = next(m for m in srv.models(srv.vendor) if m["name"] == "unemployment-logreg")
    theirs = next(m for m in srv.models(srv.vendor2) if m["name"] == "rehabilitation-gbm")
    accepted, refused, rows = [], [], 0
    for _ in range(ctx.queue_runs):
        st, data = srv.request("POST", "/api/v1/runs", srv.vendor,
                               {"model_id": mine["id"], "rows": ctx.queue_rows})
        if st == 201:
            run = json.loads(data)
            accepted.append(run["id"])
            rows += run.get("total_rows", ctx.queue_rows)
        else:
            refused.append(st)
    time.sleep(1)  # the executor picks the first of them
    st, data = srv.request("POST", "/api/v1/runs", srv.vendor2, {"model_id": theirs["id"], "rows": 1000})
    t0 = time.perf_counter()
    other = json.loads(data)["id"] if st == 201 else None
    started, state = None, f"refused {st}"
    end = t0 + max(5.0, secs - 1)
    while other and time.perf_counter() < end:
        st, data = srv.request("GET", f"/api/v1/runs/{other}", srv.vendor2)
        state = json.loads(data)["state"] if st == 200 else f"status {st}"
        if state in ("running", "succeeded", "failed"):
            started = time.perf_counter() - t0
            break
        time.sleep(0.25)
    time.sleep(max(0.0, end - time.perf_counter()))
    # Cancel what is left, so the stop measures shutdown, not the queue.
    t0 = time.perf_counter()
    for rid in accepted:
        srv.request("POST", f"/api/v1/runs/{rid}/cancel", srv.vendor)
    cancel_s = time.perf_counter() - t0
    figures = {"queued_runs": len(accepted), "refused": count(refused), "rows_queued": rows,
               "other_org_time_to_running_s": started, "other_org_state": state, "cancel_all_s": cancel_s}
    when = f"started after {started:.1f} s" if started is not None else \
        f"not started after {max(5.0, secs - 1):.0f} s ({state})"
    return figures, (f"one vendor queued {len(accepted)} runs of {ctx.queue_rows:,} rows ({rows:,} rows; "
                     f"refused: {count(refused) or 'none'}); the other organisation's run {when}")


def attack_poisoned(ctx, srv, secs):
    """Item 11: a /v2 model that times out, called concurrently by one caller."""
    unemp, _ = demo_cases(srv)
    hostile = os.path.join(ctx.root, "models", "hostile", "cpu_bomb.onnx")
    st, data = srv.upload(srv.vendor, unemp["id"], hostile, hostile[:-5] + ".toml")
    if st not in (200, 201):
        return {"upload": st}, f"upload of cpu_bomb refused ({st}): {data[:200]!r}"
    mid = json.loads(data)["id"]
    body = json.dumps({"inputs": v2_inputs(ctx, srv, srv.vendor, mid, 1)}).encode()
    results = []
    end = time.time() + secs
    # Long enough to see a retry (two deadlines) and bounded: the attack ends by secs + patience.
    patience = 3 * ctx.batch_timeout + 5

    def caller():
        while time.time() < end:
            results.append(post_stream(srv.port, f"/v2/models/{mid}/infer", srv.vendor, body, timeout=patience))
    threads = [threading.Thread(target=caller, daemon=True) for _ in range(ctx.poison_callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, end + patience + 1 - time.time()))
    answered = [r for r in results if isinstance(r[0], int)]
    figures = {"callers": ctx.poison_callers, "batch_timeout_s": ctx.batch_timeout, "requests": len(results),
               "answered": len(answered), "statuses": count(r[0] for r in results),
               "answer_s_mean": statistics.mean(r[2] for r in answered) if answered else None}
    return figures, (f"{ctx.poison_callers} concurrent callers of cpu_bomb (batch timeout {ctx.batch_timeout} s): "
                     f"{len(results)} requests [{figures['statuses']}]"
                     + (f", answered after {figures['answer_s_mean']:.1f} s on average" if answered else "")
                     + "; worker CPU-seconds and workers started: see their column")


ATTACKS = [
    ("0", "no attack (baseline)", attack_idle, 10),
    ("2", "/v2 output amplification", attack_amplification, None),
    ("3", "every sample model live, then idle", attack_memory, None),
    ("4", "slow and idle connections", attack_slow_connections, None),
    ("5", "anonymous refused requests", attack_anonymous, None),
    ("6", "one vendor fills the run queue", attack_run_queue, None),
    ("11", "poisoned /v2 request (cpu_bomb)", attack_poisoned, None),
]


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------

def known_flags(binary, flags):
    """The flags `serve --help` lists, and the others with their values (the script must run on
    the code before the fixes too, whose `serve` lacks their flags)."""
    helptext = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True).stdout
    known = set(re.findall(r"(--[a-z0-9][a-z0-9-]*)", helptext))
    kept, dropped, i = [], [], 0
    while i < len(flags):
        f = flags[i]
        takes_value = f.startswith("--") and "=" not in f and i + 1 < len(flags) \
            and not flags[i + 1].startswith("--")
        group = flags[i:i + 2] if takes_value else [f]
        if f.startswith("--") and f.split("=", 1)[0] not in known:
            dropped.append(" ".join(group))
        else:
            kept.extend(group)
        i += len(group)
    return kept, dropped


class Context:
    def __init__(self, a):
        self.root = os.path.abspath(a.root)
        self.bin = os.path.abspath(a.bin)
        self.work = os.path.abspath(a.work)
        self.logs = os.path.join(self.work, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.serve_flags, self.dropped_flags = known_flags(self.bin, shlex.split(a.serve_flags or ""))
        for f in self.dropped_flags:
            print(f"warning: this binary's `serve` has no {f.split()[0]}; left out: {f}", flush=True)
        self.server_nofile = a.server_nofile
        self.stop_wait = a.stop_wait
        self.pidfile = a.pidfile
        self.wrk = a.wrk or None
        env = lambda k, d: int(os.environ.get(k, d))  # noqa: E731
        self.amp_rows, self.amp_repeats = env("AMP_ROWS", 1024), env("AMP_REPEATS", 14000)
        self.mem_rows = env("MEM_ROWS", 4096)
        self.slow_conns, self.idle_conns = env("SLOW_CONNS", 1000), env("IDLE_CONNS", 100)
        self.flood_conns = env("FLOOD_CONNS", 32)
        self.queue_runs, self.queue_rows = env("QUEUE_RUNS", 40), env("QUEUE_ROWS", 2_000_000)
        self.poison_callers = env("POISON_CALLERS", 4)
        self.batch_timeout = env("POISON_BATCH_TIMEOUT", 5)
        self.budget_mb = a.budget_mb
        if not self.budget_mb:  # the fixes' flag, when it is passed through SERVE_FLAGS
            for i, f in enumerate(self.serve_flags):
                if f == "--memory-budget-mb" and i + 1 < len(self.serve_flags):
                    self.budget_mb = int(self.serve_flags[i + 1])
                elif f.startswith("--memory-budget-mb="):
                    self.budget_mb = int(f.split("=", 1)[1])
        self._rows = {}
        self._pids = set()

    def register(self, pid):
        self._pids.add(pid)
        self._write_pids()

    def unregister(self, pid):
        self._pids.discard(pid)
        self._write_pids()

    def _write_pids(self):
        if self.pidfile:
            with open(self.pidfile, "w") as f:
                f.write("".join(f"{p}\n" for p in sorted(self._pids)))

    def rows(self, scenario):
        """Citizens of the scenario's test split, from `sandkasse generate` (CSV)."""
        if scenario not in self._rows:
            path = os.path.join(self.work, f"{scenario}.csv")
            subprocess.run([self.bin, "generate", "--scenario", scenario, "--rows", "4096", "--seed", "1",
                            "--split", "test", "--format", "csv", "--out", path],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with open(path, newline="") as f:
                self._rows[scenario] = list(csv.DictReader(f))
        return self._rows[scenario]


def fmt_ms(v):
    if v is None:
        return "-"
    if v == float("inf"):
        return "fail"
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


def run_main(a):
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    ctx = Context(a)
    secs = a.seconds
    only = set(a.only.split(",")) if a.only else None
    rows = []
    for key, title, fn, fixed in ATTACKS:
        if only and key not in only:
            continue
        d = fixed or secs
        extra = []
        if key == "11" and "--batch-timeout" not in ctx.serve_flags:
            extra = ["--batch-timeout", str(ctx.batch_timeout)]
        print(f"== {key}: {title} ({d} s)", flush=True)
        srv = Server(ctx, f"attack{key}", extra)
        took = None
        try:
            time.sleep(1)
            probe = Probe(srv.port, srv.proc.pid, a.rate, a.probe_timeout)
            time.sleep(0.5)
            t0 = time.perf_counter()
            try:
                figures, summary = fn(ctx, srv, d)
            except Exception as e:  # the attack itself broke: report it, keep the others
                figures, summary = {"error": repr(e)}, f"the attack failed: {e!r}"
            elapsed = time.perf_counter() - t0
            p = probe.stop()
        finally:
            alive = srv.proc.poll() is None
            took = srv.stop()
        fresh, keep = latency_stats(p["fresh"]), latency_stats(p["keepalive"])
        both = latency_stats(p["fresh"] + p["keepalive"])
        row = {"key": key, "title": title, "seconds": round(elapsed, 1), "summary": summary, "figures": figures,
               "live": both, "live_fresh": fresh, "live_keepalive": keep, "rss_peak": p["rss_peak"],
               "rss_last": p["rss_last"], "procs_peak": p["procs_peak"], "worker_cpu_s": p["worker_cpu_s"],
               "server_cpu_s": p["server_cpu_s"], "server_alive_at_end": alive, "sigterm_exit_s": took,
               "workers_started": p["workers_started"], "load_1m_end": os.getloadavg()[0],
               "rss_series": p["rss_series"]}
        rows.append(row)
        print(f"   live p50/p99/max ms: {fmt_ms(both['p50'])} / {fmt_ms(both['p99'])} / {fmt_ms(both['max'])}; "
              f"failed {fresh['fail']}/{fresh['n']} fresh, {keep['fail']}/{keep['n']} keep-alive", flush=True)
        print(f"   peak memory {p['rss_peak'] / 2**20:.0f} MiB in up to {p['procs_peak']} processes; "
              f"CPU: workers {p['worker_cpu_s']:.1f} s ({p['workers_started']} started), server "
              f"{p['server_cpu_s']:.1f} s; machine load {os.getloadavg()[0]:.1f}", flush=True)
        print(f"   {summary}", flush=True)
        print(f"   stop: " + (f"exited {took:.1f} s after SIGTERM" if took is not None else
                              f"still up {ctx.stop_wait} s after SIGTERM: killed"), flush=True)
    write_markdown(a, ctx, rows)
    with open(a.json, "w") as f:
        json.dump({"rows": rows, "machine": machine(), "command": a.command, "serve_flags": a.serve_flags}, f, indent=1)
    print(f"wrote {a.md} and {a.json}", flush=True)


def machine():
    mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "0")
    return {"nproc": os.cpu_count(), "memtotal_mib": int(mem) // 1024, "kernel": os.uname().release,
            "load_before": os.getloadavg()}


def write_markdown(a, ctx, rows):
    m = machine()
    budget = f"{ctx.budget_mb} MiB" if ctx.budget_mb else "none configured"
    commit = subprocess.run(["git", "-C", ctx.root, "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip()
    out = [
        f"Attacks of issue 12 against `sandkasse serve --demo` (release build, commit {commit}), "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        f"Machine: {m['nproc']} cores, {m['memtotal_mib']} MiB RAM, Linux {m['kernel']}; the attacker, the probe and "
        f"the service share it (load 1m: the machine's load average at the end of the attack; other jobs count too). Server's open-file limit: {ctx.server_nofile or 'inherited'}. Memory budget: {budget}.",
        f"Command: `{a.command}`" + (f" with `SERVE_FLAGS={a.serve_flags}`" if a.serve_flags else "") + "."
        + (f" Left out (not flags of this binary's `serve`): `{'`, `'.join(ctx.dropped_flags)}`."
           if ctx.dropped_flags else ""),
        "",
        f"Live probe: `GET /v2/health/live` {a.rate}/s on fresh connections and {a.rate}/s on one keep-alive "
        f"connection, {a.probe_timeout:g} s timeout; a failure counts as infinitely slow (p99 `fail` when over 1 % "
        "failed). Memory: RSS summed over the server and every descendant (workers), sampled every 200 ms. "
        "Each attack runs on a fresh server and data directory.",
        "",
        "| item | attack | live p50 ms | live p99 ms | live max ms | probe failures (fresh / keep-alive) "
        "| peak memory MiB (processes) | worker CPU s (started) | load 1m | p99 < 50 ms | memory < budget "
        "| what the attack got |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        live = r["live"]
        ok_live = "yes" if live["p99"] is not None and live["p99"] < 50 else "**no**"
        peak = r["rss_peak"] / 2**20
        ok_mem = "-" if not ctx.budget_mb else ("yes" if peak < ctx.budget_mb else "**no**")
        summary = r["summary"].replace("|", "\\|")
        out.append(
            f"| {r['key']} | {r['title']} | {fmt_ms(live['p50'])} | {fmt_ms(live['p99'])} | {fmt_ms(live['max'])} "
            f"| {r['live_fresh']['fail']}/{r['live_fresh']['n']} / {r['live_keepalive']['fail']}/{r['live_keepalive']['n']} "
            f"| {peak:.0f} ({r['procs_peak']}) | {r['worker_cpu_s']:.1f} ({r['workers_started']}) "
            f"| {r['load_1m_end']:.1f} | {ok_live} | {ok_mem} | {summary} |")
    out.append("")
    with open(a.md, "w") as f:
        f.write("\n".join(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("probe")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--rate", type=float, default=10)
    p.add_argument("--timeout", type=float, default=2)
    r = sub.add_parser("run")
    r.add_argument("--root", required=True)
    r.add_argument("--bin", required=True)
    r.add_argument("--work", required=True)
    r.add_argument("--md", required=True)
    r.add_argument("--json", required=True)
    r.add_argument("--seconds", type=int, default=30)
    r.add_argument("--only", default="")
    r.add_argument("--serve-flags", default="")
    r.add_argument("--server-nofile", type=int, default=1024)
    r.add_argument("--budget-mb", type=int, default=0)
    r.add_argument("--rate", type=float, default=10)
    r.add_argument("--probe-timeout", type=float, default=2)
    r.add_argument("--stop-wait", type=float, default=10)
    r.add_argument("--pidfile", default="")
    r.add_argument("--wrk", default="")
    r.add_argument("--command", default="benches/attacks.sh")
    a = ap.parse_args()

    def on_term(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)
    if a.cmd == "probe":
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        probe_main(a)
    else:
        run_main(a)


if __name__ == "__main__":
    main()
