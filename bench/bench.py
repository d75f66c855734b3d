#!/usr/bin/env python3
"""roundtrip's benchmark driver (stdlib only). bench/run.sh builds everything, starts nginx and
calls this; see bench/README.md.

Phases: a warm-up pass (every contender, every scenario, small N; also the smoke check), timed
rounds (every contender and scenario once per round, the contender order reversed every other
round), baseline runs for RSS, callgrind runs for marginal instructions per request, a
connection-count pass against nginx's logging port, heap per idle pooled connection, and
release sizes. Then medians, ratios, target checks, and the tables.
"""

import argparse
import datetime
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

SCENARIOS = ["seq", "c64", "big", "post"]
SCENARIO_TITLES = {
    "seq": "sequential keep-alive GETs of 1 KiB",
    "c64": "64 concurrent GETs of 1 KiB (64 workers, each sequential)",
    "big": "GETs of 16 MiB, streamed through a fixed buffer",
    "post": "sequential POSTs of 64 KiB",
}

MODES = {
    "full": {
        "rounds": 5,
        "n": {"seq": 30000, "c64": 64 * 1000, "big": 64, "post": 10000},
        # wstd opens a TCP connection per request (the host's wasi:http): fewer, so that
        # TIME_WAIT sockets do not exhaust the loopback ports.
        "n_cap": {"wasm/wstd": 2000},
        "warmup_n": {"seq": 200, "c64": 640, "big": 2, "post": 100},
        "wrk_seconds": 4,
        "timeout": 180,
        "callgrind": {"seq": (200, 1200), "c64": (640, 1920), "big": (1, 3), "post": (100, 600)},
        "callgrind_keys": None,  # all
        "conn_n": {"seq": 200, "c64": 640, "big": 2, "post": 100},
        "idle_k": (1, 64),
    },
    "smoke": {
        "rounds": 1,
        "n": {"seq": 500, "c64": 640, "big": 2, "post": 200},
        "n_cap": {"wasm/wstd": 200},
        "warmup_n": {"seq": 50, "c64": 64, "big": 1, "post": 20},
        "wrk_seconds": 1,
        "timeout": 60,
        "callgrind": {"seq": (20, 120)},
        "callgrind_keys": ["native/rt", "native/hyper-conn", "wasm/rt", "wasm/raw"],
        "conn_n": {"seq": 50, "c64": 128, "big": 1, "post": 20},
        "idle_k": (1, 16),
    },
}

NATIVE = [("rt", "rt"), ("hyper-pool", "hyper_pool"), ("hyper-conn", "hyper_conn"), ("ureq", "ureq")]
WASM = [("rt", "rt"), ("hyper-pool", "hyper_pool"), ("hyper-conn", "hyper_conn"), ("wstd", "wstd"), ("raw", "raw")]
GET_PEERS = [("get_rt", "roundtrip"), ("get_hyper", "hyper-util Client + tokio"),
             ("get_wstd", "wstd (HTTP in the host, wasi:http)")]
LABELS = {
    "native/rt": "roundtrip",
    "native/hyper-pool": "hyper-util legacy Client (pooled)",
    "native/hyper-conn": "hyper conn::http1 (1 conn per worker)",
    "native/ureq": "ureq 3 (64 threads for c64)",
    "native/wrk": "wrk (ceiling)",
    "wasm/rt": "roundtrip",
    "wasm/hyper-pool": "hyper-util Client + tokio (pooled)",
    "wasm/hyper-conn": "hyper conn::http1 + tokio",
    "wasm/wstd": "wstd over host wasi:http",
    "wasm/raw": "raw wasi:sockets loop (ceiling)",
}
# Failures that are results, not harness breakage (the smoke pass tolerates them).
TOLERATED = {"wasm/wstd"}


def log(msg):
    print(f"[bench.py {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


MEASURE = None  # path of bench's `measure` launcher, set in main()


def run(cmd, timeout, cwd=None, measured=True):
    """Runs cmd with a hard timeout; returns dict(rc, stdout, stderr, user, sys, maxrss_kb,
    wall, timed_out). Resource usage: from the `measure` launcher (wait4 on a child forked
    from a small process, so that the peak RSS is the client's, not this driver's, which
    Linux would carry across exec); from wait4 on the child itself when not `measured`."""
    if measured and MEASURE:
        cmd = [MEASURE] + list(cmd)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                             start_new_session=True, cwd=cwd)
        fired = []

        def kill():
            fired.append(True)
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        wall = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stderr = err.read()
        res = {
            "rc": p.returncode, "stdout": out.read(), "stderr": stderr[-4000:],
            "user": ru.ru_utime, "sys": ru.ru_stime, "maxrss_kb": ru.ru_maxrss,
            "wall": wall, "timed_out": bool(fired),
        }
        if measured and MEASURE:
            m = None
            for m in re.finditer(r"^measure: (\{.*\})$", stderr, re.M):
                pass
            if m:
                u = json.loads(m.group(1))
                res.update({"user": u["user_s"], "sys": u["sys_s"], "maxrss_kb": u["maxrss_kb"]})
            else:
                res.update({"user": None, "sys": None, "maxrss_kb": None})
        return res


class Bench:
    def __init__(self, a):
        self.a = a
        self.cfg = MODES[a.mode]
        self.keys = [f"native/{n}" for n, _ in NATIVE] + ["native/wrk"] + [f"wasm/{n}" for n, _ in WASM]
        self.bins = {f"native/{n}": b for n, b in NATIVE}
        self.bins.update({f"wasm/{n}": b for n, b in WASM})
        self.runs = []          # timed and baseline runs
        self.callgrind = {}     # key -> scenario -> dict
        self.conns = {}         # key -> scenario -> dict
        self.idle = {}          # client -> dict
        self.sizes = {}
        self.failures = []      # (key, scenario, phase, error)

    # --- commands -----------------------------------------------------------------------------
    def cmd(self, key, scenario, url, n, valgrind=False):
        plat, name = key.split("/")
        b = self.bins[key]
        if plat == "native":
            return [os.path.join(self.a.native_dir, b), scenario, url, str(n)]
        cwasm = os.path.join(self.a.cwasm_dir, f"{b}.vg.cwasm" if valgrind else f"{b}.cwasm")
        cmd = [self.a.wasmtime, "run", "--allow-precompiled",
               "-S", "inherit-network=y", "-S", "allow-ip-name-lookup=y"]
        if name == "wstd":
            cmd += ["-S", "http=y"]
        return cmd + [cwasm, scenario, url, str(n)]

    def n_for(self, key, scenario, n):
        cap = self.cfg["n_cap"].get(key)
        return min(n, cap) if cap else n

    def parse_result(self, r):
        line = next((l for l in r["stdout"].splitlines() if l.startswith("{")), None)
        if r["timed_out"]:
            return {"ok": False, "error": f"timed out after {r['wall']:.0f}s"}
        if line is None:
            tail = (r["stderr"].strip().splitlines() or ["(no output)"])[-1]
            return {"ok": False, "error": f"exit {r['rc']}: {tail}"}
        try:
            res = json.loads(line)
        except ValueError:
            return {"ok": False, "error": f"unparsable output: {line[:200]}"}
        if res.get("ok") and r["rc"] != 0:
            res["ok"] = False
            res["error"] = f"exit {r['rc']}"
        return res

    def run_contender(self, key, scenario, n, url=None):
        url = url or self.a.url
        if key == "native/wrk":
            return self.run_wrk(scenario, url)
        r = run(self.cmd(key, scenario, url, self.n_for(key, scenario, n)), self.cfg["timeout"])
        res = self.parse_result(r)
        res.update({k: r[k] for k in ("user", "sys", "maxrss_kb", "wall")})
        return res

    def run_wrk(self, scenario, url, seconds=None):
        seconds = seconds or self.cfg["wrk_seconds"]
        path = {"seq": "/1k.bin", "c64": "/1k.bin", "big": "/16m.bin", "post": "/post"}[scenario]
        conns = 64 if scenario == "c64" else 1
        cmd = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "10s"]
        if scenario == "post":
            cmd += ["-s", self.a.post_lua]
        r = run(cmd + [url + path], seconds + 60)
        res = {"contender": "wrk", "scenario": scenario, "ok": False,
               "user": r["user"], "sys": r["sys"], "maxrss_kb": r["maxrss_kb"], "wall": r["wall"]}
        out = r["stdout"]
        m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m), ([\d.]+)([KMGT]?B) read", out)
        if r["timed_out"] or not m:
            res["error"] = f"wrk failed (exit {r['rc']}): {(out + r['stderr']).strip()[-300:]}"
            return res
        scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[m.group(3)]
        bscale = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}[m.group(5)]
        res.update({"requests": int(m.group(1)), "elapsed_s": float(m.group(2)) * scale,
                    "bytes": int(float(m.group(4)) * bscale), "ok": True})
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        sock = re.search(r"Socket errors: (.*)", out)
        if bad:
            res["ok"] = False
            res["error"] = f"{bad.group(1)} non-2xx responses"
        if sock:
            res["socket_errors"] = sock.group(1)
        return res

    def record_failure(self, key, scenario, phase, res):
        err = res.get("error", "failed")
        self.failures.append({"key": key, "scenario": scenario, "phase": phase, "error": err})
        log(f"  FAILED {key} {scenario} ({phase}): {err}")

    # --- phases ---------------------------------------------------------------------------------
    def warmup(self):
        log("warm-up: every contender, every scenario, small N")
        for scenario in SCENARIOS:
            for key in self.keys:
                if key == "native/wrk":
                    res = self.run_wrk(scenario, self.a.url, seconds=1)
                else:
                    res = self.run_contender(key, scenario, self.cfg["warmup_n"][scenario])
                if not res.get("ok"):
                    self.record_failure(key, scenario, "warm-up", res)

    def rounds(self):
        for rnd in range(self.cfg["rounds"]):
            order = self.keys if rnd % 2 == 0 else list(reversed(self.keys))
            log(f"round {rnd + 1}/{self.cfg['rounds']} ({'forward' if rnd % 2 == 0 else 'reverse'} order)")
            for scenario in SCENARIOS:
                for key in order:
                    res = self.run_contender(key, scenario, self.cfg["n"][scenario])
                    res.update({"key": key, "scenario": scenario, "round": rnd + 1, "phase": "timed"})
                    self.runs.append(res)
                    if not res.get("ok"):
                        self.record_failure(key, scenario, f"round {rnd + 1}", res)
            # Baseline for RSS growth: one 1 KiB GET (wrk has no such mode).
            for key in order:
                if key == "native/wrk":
                    continue
                res = self.run_contender(key, "seq", 1)
                res.update({"key": key, "scenario": "base", "round": rnd + 1, "phase": "baseline"})
                self.runs.append(res)

    def vg_cwasm(self, b):
        src = os.path.join(self.a.wasm_dir, f"{b}.wasm")
        dst = os.path.join(self.a.cwasm_dir, f"{b}.vg.cwasm")
        if not os.path.exists(dst) or os.path.getmtime(dst) < os.path.getmtime(src):
            # Compiled under valgrind, so that the code uses only the CPU features valgrind
            # reports (it has no AVX-512); the timed runs use the host's own.
            r = run(["valgrind", "--tool=none", "-q", self.a.wasmtime, "compile", "-o", dst, src], 900,
                    measured=False)
            if r["rc"] != 0:
                raise RuntimeError(f"wasmtime compile under valgrind failed: {r['stderr'][-500:]}")

    def callgrind_runs(self):
        keys = self.cfg["callgrind_keys"] or [k for k in self.keys if k != "native/wrk"]
        for key in keys:
            self.callgrind[key] = {}
            if key.startswith("wasm/"):
                try:
                    self.vg_cwasm(self.bins[key])
                except RuntimeError as e:
                    for scenario in self.cfg["callgrind"]:
                        self.callgrind[key][scenario] = {"ok": False, "error": str(e)}
                    continue
            for scenario, (n1, n2) in self.cfg["callgrind"].items():
                n1, n2 = self.n_for(key, scenario, n1), self.n_for(key, scenario, n2)
                log(f"callgrind {key} {scenario} N1={n1} N2={n2}")
                warm = self.run_contender(key, scenario, n1)   # warm-up (plain run)
                entry = {"n1": n1, "n2": n2, "ok": False}
                counts = []
                for n in (n1, n2):
                    with tempfile.NamedTemporaryFile(suffix=".callgrind") as f:
                        vg = ["valgrind", "--tool=callgrind", "--trace-children=no",
                              f"--callgrind-out-file={f.name}"]
                        r = run(vg + self.cmd(key, scenario, self.a.url, n, valgrind=True),
                                max(600, self.cfg["timeout"]), measured=False)
                    res = self.parse_result(r)
                    m = re.search(r"Collected : (\d+)", r["stderr"])
                    if not res.get("ok") or not m:
                        entry["error"] = res.get("error") or "no instruction count"
                        break
                    counts.append(int(m.group(1)))
                if len(counts) == 2:
                    entry.update({"ok": True, "instr_n1": counts[0], "instr_n2": counts[1],
                                  "per_request": (counts[1] - counts[0]) / (n2 - n1)})
                else:
                    self.record_failure(key, scenario, "callgrind", entry)
                if not warm.get("ok"):
                    entry["warmup_error"] = warm.get("error")
                self.callgrind[key][scenario] = entry

    def conn_counts(self):
        log("TCP connections per contender and scenario (nginx $connection, logging port)")
        for key in self.keys:
            self.conns[key] = {}
            for scenario in SCENARIOS:
                open(self.a.access_log, "w").close()
                if key == "native/wrk":
                    res = self.run_wrk(scenario, self.a.log_url, seconds=1)
                else:
                    res = self.run_contender(key, scenario, self.cfg["conn_n"][scenario], url=self.a.log_url)
                time.sleep(0.3)  # nginx logs a request once it is finalized
                with open(self.a.access_log) as f:
                    lines = [l.split() for l in f if l.strip()]
                conns = {l[0] for l in lines}
                statuses = {}
                for l in lines:
                    statuses[l[-1]] = statuses.get(l[-1], 0) + 1
                self.conns[key][scenario] = {"ok": bool(res.get("ok")), "requests": res.get("requests"),
                                             "logged_requests": len(lines), "connections": len(conns),
                                             "statuses": statuses, "error": res.get("error")}
                if not res.get("ok"):
                    self.record_failure(key, scenario, "connections", res)

    def idle_heap(self):
        k1, k2 = self.cfg["idle_k"]
        for client in ("rt", "hyper-pool", "ureq"):
            log(f"heap per idle pooled connection: {client} (K={k1},{k2})")
            r = run([os.path.join(self.a.native_dir, "idle_heap"), client, self.a.url, str(k1), str(k2)],
                    self.cfg["timeout"])
            res = self.parse_result(r)
            self.idle[client] = res
            if not res.get("ok"):
                self.record_failure(f"native/{client}", "idle", "idle heap", res)

    def measure_sizes(self):
        if self.a.get_error:
            self.sizes["get (roundtrip example)"] = {"ok": False, "error": self.a.get_error}
        elif os.path.exists(self.a.get_wasm):
            self.sizes["get (roundtrip example)"] = {"ok": True, "bytes": os.path.getsize(self.a.get_wasm),
                                                     "path": "target/wasm32-wasip2/release/examples/get.wasm"}
        else:
            self.sizes["get (roundtrip example)"] = {"ok": False, "error": "get.wasm not built"}
        def add_component(label, b):
            p = os.path.join(self.a.wasm_dir, f"{b}.wasm")
            if os.path.exists(p):
                self.sizes[label] = {"ok": True, "bytes": os.path.getsize(p),
                                     "path": f"bench/target/wasm/wasm32-wasip2/release/{b}.wasm"}
            else:
                self.sizes[label] = {"ok": False, "error": "not built"}

        # The same minimal "get" (URL, N times on one client, print head and body) on each
        # client: the like-for-like size comparison.
        for b, what in GET_PEERS:
            add_component(f"{b}.wasm: minimal get on {what}", b)
        for name, b in WASM:
            add_component(f"bench contender {b}.wasm ({LABELS['wasm/' + name]})", b)

    # --- summary --------------------------------------------------------------------------------
    def summarize(self):
        s = {}
        for key in self.keys:
            s[key] = {}
            base = [r["maxrss_kb"] for r in self.runs
                    if r["key"] == key and r["phase"] == "baseline" and r.get("ok") and r.get("maxrss_kb")]
            base_rss = statistics.median(base) / 1024 if base else None
            for scenario in SCENARIOS:
                rs = [r for r in self.runs if r["key"] == key and r["scenario"] == scenario and r["phase"] == "timed"]
                ok = [r for r in rs if r.get("ok") and r.get("requests") and r.get("elapsed_s")]
                e = {"runs": len(rs), "ok_runs": len(ok)}
                failed_req = sum(r.get("failed_requests") or 0 for r in rs)
                if failed_req:
                    e["failed_requests"] = failed_req
                    e["attempted_requests"] = failed_req + sum(r.get("requests") or 0 for r in rs)
                errs = [r.get("error") for r in rs if not r.get("ok")]
                if errs:
                    e["errors"] = sorted(set(errs))[:3]
                if ok:
                    e["rps"] = statistics.median(r["requests"] / r["elapsed_s"] for r in ok)
                    if scenario == "post":  # the upload rate: 64 KiB request bodies
                        e["mibps"] = statistics.median(r["requests"] * 65536 / r["elapsed_s"] / 2**20 for r in ok)
                    else:
                        e["mibps"] = statistics.median(r["bytes"] / r["elapsed_s"] / 2**20 for r in ok)
                    cpu = [(r["user"] + r["sys"]) / r["requests"] * 1e6 for r in ok if r.get("user") is not None]
                    rss = [r["maxrss_kb"] for r in ok if r.get("maxrss_kb") is not None]
                    e["cpu_us_per_req"] = statistics.median(cpu) if cpu else None
                    e["rss_mib"] = statistics.median(rss) / 1024 if rss else None
                    e["requests_per_run"] = statistics.median(r["requests"] for r in ok)
                    if base_rss is not None and e["rss_mib"] is not None and key != "native/wrk":
                        e["rss_growth_mib"] = e["rss_mib"] - base_rss
                cg = self.callgrind.get(key, {}).get(scenario)
                if cg:
                    e["instr_per_req"] = cg.get("per_request")
                    if not cg.get("ok"):
                        e["instr_error"] = cg.get("error")
                cn = self.conns.get(key, {}).get(scenario)
                if cn:
                    e["tcp_conns"] = cn["connections"]
                    e["tcp_conns_requests"] = cn["logged_requests"]
                s[key][scenario] = e
            s[key]["base_rss_mib"] = base_rss
        self.summary = s
        return s

    def ratio(self, key_a, key_b, scenario, field):
        a = self.summary.get(key_a, {}).get(scenario, {}).get(field)
        b = self.summary.get(key_b, {}).get(scenario, {}).get(field)
        if a is None or b is None or b == 0:
            return None
        return a / b

    def targets(self):
        s = self.summary
        t = []

        def add(name, value, op, bound, detail, ceiling=None):
            # `ceiling`: the same ratio with the ceiling contender (wrk natively, the raw loop in
            # wasm) in roundtrip's place. When it is itself short of the bound, no client could
            # have met the target in this run, and the table says so.
            row = {"target": name, "value": value, "bound": f"{op} {bound}", "met": None,
                   "detail": detail, "ceiling": ceiling,
                   "reachable": None if ceiling is None else ceiling >= bound}
            if value is not None:
                row["met"] = value <= bound if op == "<=" else (value >= bound if op == ">=" else value == bound)
            t.append(row)

        add("native seq: instructions/request vs hyper conn::http1",
            self.ratio("native/rt", "native/hyper-conn", "seq", "instr_per_req"), "<=", 0.63, "ratio rt ÷ hyper-conn")
        add("native seq: requests/s vs hyper-util pooled",
            self.ratio("native/rt", "native/hyper-pool", "seq", "rps"), ">=", 1.1, "ratio rt ÷ hyper-pool",
            self.ratio("native/wrk", "native/hyper-pool", "seq", "rps"))
        add("wasm seq: instructions/request vs raw wasi:sockets loop",
            self.ratio("wasm/rt", "wasm/raw", "seq", "instr_per_req"), "<=", 1.1, "ratio rt ÷ raw")
        hp = [self.ratio("wasm/rt", k, "seq", "rps") for k in ("wasm/hyper-pool", "wasm/hyper-conn")]
        hp = [x for x in hp if x is not None]
        hc = [self.ratio("wasm/raw", k, "seq", "rps") for k in ("wasm/hyper-pool", "wasm/hyper-conn")]
        hc = [x for x in hc if x is not None]
        add("wasm seq: requests/s vs hyper+tokio on wasip2 (the faster of pooled and conn::http1)",
            min(hp) if hp else None, ">=", 1.5, "ratio rt ÷ max(hyper-pool, hyper-conn)",
            min(hc) if hc else None)
        add("native c64: requests/s vs hyper-util pooled",
            self.ratio("native/rt", "native/hyper-pool", "c64", "rps"), ">=", 1.0, "ratio rt ÷ hyper-pool",
            self.ratio("native/wrk", "native/hyper-pool", "c64", "rps"))
        add("native c64: requests/s vs wrk",
            self.ratio("native/rt", "native/wrk", "c64", "rps"), ">=", 0.8, "ratio rt ÷ wrk")
        add("wasm c64: requests/s vs hyper pooled on wasip2",
            self.ratio("wasm/rt", "wasm/hyper-pool", "c64", "rps"), ">=", 2.0, "ratio rt ÷ hyper-pool",
            self.ratio("wasm/raw", "wasm/hyper-pool", "c64", "rps"))
        for plat in ("native", "wasm"):
            add(f"{plat} seq: TCP connections", s[f"{plat}/rt"]["seq"].get("tcp_conns"), "==", 1,
                f"{s[f'{plat}/rt']['seq'].get('tcp_conns_requests')} requests")
            add(f"{plat} c64: TCP connections", s[f"{plat}/rt"]["c64"].get("tcp_conns"), "==", 64,
                f"{s[f'{plat}/rt']['c64'].get('tcp_conns_requests')} requests")
        for plat in ("native", "wasm"):
            add(f"{plat} 16 MiB download: peak RSS growth (MiB)", s[f"{plat}/rt"]["big"].get("rss_growth_mib"), "<=", 1.0,
                "peak RSS of the 16 MiB runs − peak RSS of a single 1 KiB GET")
        idle = self.idle.get("rt", {})
        add("idle pooled connection: heap bytes (native)", idle.get("bytes_per_idle_conn"), "<=", 16384,
            f"marginal over K={self.cfg['idle_k']}")
        g = self.sizes.get("get (roundtrip example)", {})
        add("get as a release wasm32-wasip2 component (bytes)", g.get("bytes"), "<=", 200 * 1024, "200 KiB = 204800 bytes")
        self.target_list = t
        return t

    # --- output ---------------------------------------------------------------------------------
    def machine(self):
        def sh(cmd):
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
                return (r.stdout + r.stderr).strip().splitlines()[0]
            except Exception as e:  # noqa: BLE001
                return f"? ({e})"
        cpu = "?"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        commit = sh(["git", "-C", root, "rev-parse", "--short", "HEAD"])
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", "src"],
                               capture_output=True, text=True).stdout.strip()
        return {
            "roundtrip": f"{commit}{' + uncommitted changes in src/' if dirty else ''}",
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "rustc": sh(["rustc", "--version"]), "wasmtime": sh([self.a.wasmtime, "--version"]),
            "nginx": sh([self.a.nginx, "-v"]), "wrk": sh(["wrk", "-v"]),
            "valgrind": sh(["valgrind", "--version"]),
        }

    def markdown(self, info):
        s = self.summary
        L = []
        L.append(f"Run: **{self.a.mode}**, {info['date']}, roundtrip at {info['roundtrip']}; machine: nproc={info['nproc']}, CPU: {info['cpu']}, "
                 f"Linux {info['kernel']}; {info['rustc']}; {info['wasmtime']}; {info['nginx']}; "
                 f"{info['wrk'].split(' Copyright')[0]}; {info['valgrind']}.")
        L.append("")
        L.append(f"{self.cfg['rounds']} interleaved rounds (contender order reversed every other round); "
                 "figures are medians over the rounds. nginx runs with **1 worker** on the same 2 shared "
                 "cores, so it is itself a bottleneck for every contender, and the machine is noisy. "
                 "N per run: " + ", ".join(f"{k} {v}" for k, v in self.cfg["n"].items())
                 + f" (wstd: at most {self.cfg['n_cap'].get('wasm/wstd')}); wrk runs {self.cfg['wrk_seconds']} s.")
        L.append("")
        L.append("Columns: req/s; MiB/s of response bodies (post: of the 64 KiB request bodies; wrk: "
                 "everything it read, headers included); CPU = user+sys of the client process ÷ requests "
                 "(for wasm: the whole wasmtime process, startup included); instr/req = marginal "
                 "instructions per request under callgrind, (I(N2) − I(N1)) ÷ (N2 − N1); conns = distinct "
                 "nginx `$connection`s in a separate logged run; RSS = peak RSS of the client process "
                 "(growth = over a single 1 KiB GET); ratios are roundtrip ÷ that contender, same run.")
        for scenario in SCENARIOS:
            L.append("")
            L.append(f"#### {scenario}: {SCENARIO_TITLES[scenario]}")
            L.append("")
            L.append("| contender | req/s | MiB/s | CPU µs/req | instr/req | conns | peak RSS MiB (growth) | rt ÷ it, req/s | rt ÷ it, instr/req | runs ok |")
            L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
            for key in self.keys:
                e = s[key][scenario]
                plat = key.split("/")[0]
                rt = f"{plat}/rt"

                def f(v, fmt):
                    return fmt.format(v) if v is not None else "–"
                rss = "–"
                if e.get("rss_mib") is not None:
                    rss = f"{e['rss_mib']:.1f}"
                    if e.get("rss_growth_mib") is not None:
                        rss += f" ({e['rss_growth_mib']:+.2f})"
                instr = f(e.get("instr_per_req"), "{:,.0f}")
                if e.get("instr_error"):
                    instr = "failed"
                r_rps = self.ratio(rt, key, scenario, "rps") if key != rt else None
                r_ins = self.ratio(rt, key, scenario, "instr_per_req") if key != rt else None
                conns = e.get("tcp_conns")
                conns_s = "–" if conns is None else f"{conns}"
                if conns is not None and e.get("tcp_conns_requests") is not None:
                    conns_s += f" / {e['tcp_conns_requests']} req"
                okruns = f"{e['ok_runs']}/{e['runs']}"
                if e.get("failed_requests"):
                    okruns += f"; {e['failed_requests']:,} of {e['attempted_requests']:,} requests failed"
                name = f"{plat}: {LABELS[key]}"
                if key == rt:
                    name = f"**{name}**"
                L.append(f"| {name} | {f(e.get('rps'), '{:,.0f}')} | {f(e.get('mibps'), '{:,.1f}')} | "
                         f"{f(e.get('cpu_us_per_req'), '{:,.1f}')} | {instr} | {conns_s} | {rss} | "
                         f"{f(r_rps, '{:.2f}x')} | {f(r_ins, '{:.2f}x')} | {okruns} |")
        L.append("")
        L.append("#### Heap per idle pooled connection (native, counting global allocator)")
        L.append("")
        L.append("| client | growth K1 | growth K2 | bytes per idle connection (marginal) |")
        L.append("|---|---:|---:|---:|")
        for client, res in self.idle.items():
            if res.get("ok"):
                L.append(f"| {client} | {res['heap_k1']:,} B (K={res['k1']}) | {res['heap_k2']:,} B (K={res['k2']}) | "
                         f"{res['bytes_per_idle_conn']:,.0f} |")
            else:
                L.append(f"| {client} | failed: {res.get('error')} | | |")
        L.append("")
        L.append("#### Release size as a wasm32-wasip2 component (workspace release profile: opt-level s, LTO, strip, panic=abort)")
        L.append("")
        L.append("| component | bytes | KiB |")
        L.append("|---|---:|---:|")
        for name, res in self.sizes.items():
            if res.get("ok"):
                L.append(f"| {name} | {res['bytes']:,} | {res['bytes'] / 1024:.0f} |")
            else:
                L.append(f"| {name} | failed: {res.get('error')} | |")
        L.append("")
        L.append("#### Targets (roundtrip)")
        L.append("")
        L.append("| target | measured | bound | met? | the ceiling's ratio, same run | how |")
        L.append("|---|---:|---|---|---:|---|")
        for t in self.target_list:
            v = t["value"]
            if v is None:
                vs = "–"
            elif isinstance(v, int):
                vs = f"{v:,}"
            else:
                vs = f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.2f}"
            met = {True: "yes", False: "**no**", None: "n/a (no data)"}[t["met"]]
            if t["met"] is False and t.get("reachable") is False:
                met += " (beyond the ceiling)"
            cs = "–" if t.get("ceiling") is None else f"{t['ceiling']:.2f}"
            L.append(f"| {t['target']} | {vs} | {t['bound']} | {met} | {cs} | {t['detail']} |")
        if self.failures:
            L.append("")
            L.append("#### Failures recorded in this run")
            L.append("")
            seen = set()
            for f_ in self.failures:
                k = (f_["key"], f_["scenario"], f_["error"])
                if k in seen:
                    continue
                seen.add(k)
                n = sum(1 for x in self.failures if (x["key"], x["scenario"], x["error"]) == k)
                L.append(f"- {f_['key']} {f_['scenario']} ({f_['phase']}{', ×' + str(n) if n > 1 else ''}): `{f_['error']}`")
        return "\n".join(L) + "\n"


def update_readme(readme_path, base, md):
    """Replaces the results block of bench/README.md with `md`, naming the raw files at `base`."""
    with open(readme_path) as f:
        readme = f.read()
    begin, end = "<!-- results:begin -->", "<!-- results:end -->"
    if begin in readme and end in readme:
        head, rest = readme.split(begin, 1)
        _, tail = rest.split(end, 1)
        rel = os.path.relpath(base, os.path.dirname(readme_path))
        readme = (head + begin + "\n" + f"Raw data: `{rel}.json` (every run), `{rel}.tsv`, `{rel}.md`.\n\n"
                  + md + end + tail)
        with open(readme_path, "w") as f:
            f.write(readme)
        log(f"updated the results table in {readme_path}")


def rerender(json_path, readme_path):
    """Rebuilds a stored run's report (targets and markdown) from its JSON, measuring nothing:
    for changes to the report itself. Rewrites the run's .md and, for a full run, the README."""
    with open(json_path) as f:
        d = json.load(f)
    a = argparse.Namespace(mode=d["mode"])
    b = Bench(a)
    b.cfg = d["config"]
    b.summary, b.callgrind, b.conns = d["summary"], d["callgrind"], d["connections"]
    b.idle, b.sizes, b.failures, b.runs = d["idle_heap"], d["sizes"], d["failures"], d["runs"]
    b.targets()
    md = b.markdown(d["machine"])
    d["targets"] = b.target_list
    base = json_path[: -len(".json")]
    with open(json_path, "w") as f:
        json.dump(d, f, indent=1, default=str)
    with open(base + ".md", "w") as f:
        f.write(md)
    log(f"re-rendered {base}.json and .md from the stored figures")
    if d["mode"] == "full":
        update_readme(readme_path, base, md)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--rerender":
        rerender(sys.argv[2], sys.argv[3])
        return
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=MODES, default="full")
    p.add_argument("--native-dir", required=True)
    p.add_argument("--wasm-dir", required=True)
    p.add_argument("--cwasm-dir", required=True)
    p.add_argument("--get-wasm", required=True)
    p.add_argument("--get-error", default="")
    p.add_argument("--wasmtime", required=True)
    p.add_argument("--nginx", default="/usr/sbin/nginx")
    p.add_argument("--url", required=True)
    p.add_argument("--log-url", required=True)
    p.add_argument("--access-log", required=True)
    p.add_argument("--post-lua", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--readme", required=True)
    a = p.parse_args()
    global MEASURE
    MEASURE = os.path.join(a.native_dir, "measure")
    b = Bench(a)
    t0 = time.monotonic()
    info = b.machine()
    b.warmup()
    b.rounds()
    b.callgrind_runs()
    b.conn_counts()
    b.idle_heap()
    b.measure_sizes()
    b.summarize()
    b.targets()
    md = b.markdown(info)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M")
    base = os.path.join(a.out, f"{a.mode}-{stamp}")
    with open(base + ".json", "w") as f:
        json.dump({"machine": info, "mode": a.mode, "config": b.cfg, "summary": b.summary,
                   "targets": b.target_list, "callgrind": b.callgrind, "connections": b.conns,
                   "idle_heap": b.idle, "sizes": b.sizes, "failures": b.failures, "runs": b.runs},
                  f, indent=1, default=str)
    cols = ["phase", "round", "key", "scenario", "ok", "requests", "elapsed_s", "bytes", "user", "sys",
            "maxrss_kb", "wall", "error"]
    with open(base + ".tsv", "w") as f:
        f.write("\t".join(cols) + "\n")
        for r in b.runs:
            f.write("\t".join(str(r.get(c, "")) for c in cols) + "\n")
    with open(base + ".md", "w") as f:
        f.write(md)
    print(md)
    log(f"wrote {base}.json, .tsv, .md ({time.monotonic() - t0:.0f} s)")
    if a.mode == "full":
        update_readme(a.readme, base, md)
    # Smoke: fail on anything broken except results that are failures by nature (wstd).
    broken = [f_ for f_ in b.failures if f_["key"] not in TOLERATED]
    if broken:
        log(f"{len(broken)} failure(s) outside the tolerated set: " + "; ".join(
            f"{f_['key']} {f_['scenario']} {f_['phase']}: {f_['error']}" for f_ in broken[:5]))
        if a.mode == "smoke":
            sys.exit(1)


if __name__ == "__main__":
    main()
