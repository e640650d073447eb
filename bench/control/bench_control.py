#!/usr/bin/env python3
# bench_control.py - the control-plane benchmark (bench/run control).
#
# One xs-fabricd, one xsdirectord, N hosts emulated by P xscored processes
# (xscored --hosts N/P) on the soft fabric. Before the hosts start, N server
# profiles (bound by host name) with 2 vNICs each are created through the
# director's control socket, all requests pipelined on one connection.
# Then the hosts start and the clock runs until every host holds its two
# vNICs (polled through each xscored's control socket, "summary").
#
# Printed: the phases (configuration, discovery, sessions up, all installed),
# the director's RSS before the hosts and with them, the director's XDS and
# MAD drop counters, and as the last line one JSON object.
#
#   bench_control.py BUILD_DIR [HOSTS] [PROCESSES]
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

TIMEOUT_S = 120


def die(msg):
    print("bench control: " + msg, file=sys.stderr)
    sys.exit(1)


class Ctl:
    """A JSON-lines client of a Unix control socket."""

    def __init__(self, path, timeout=30):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.f = self.s.makefile("rwb")

    def pipeline(self, reqs):
        """Send every request, then read every answer (in order)."""
        out = []
        # Write in chunks so the daemon's answers never fill our socket
        # buffer while we are still writing (it answers as it reads).
        chunk = 256
        for i in range(0, len(reqs), chunk):
            part = reqs[i:i + chunk]
            self.f.write(b"".join(json.dumps(r).encode() + b"\n" for r in part))
            self.f.flush()
            for _ in part:
                line = self.f.readline()
                if not line:
                    die("control socket closed while answering")
                out.append(json.loads(line))
        return out

    def close(self):
        self.f.close()
        self.s.close()


class Pid:
    def __init__(self, pid):
        self.pid = pid


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    die("no VmRSS for pid %d" % pid)


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick


def wait_for(what, cond, secs, procs):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        for name, p in procs:
            if p.poll() is not None:
                die("%s exited (status %s) while waiting for %s" % (name, p.returncode, what))
        if cond():
            return
        time.sleep(0.02)
    die("timed out after %d s waiting for %s" % (secs, what))


def summary(path):
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(path)
        s.sendall(b'{"cmd":"summary"}\n')
        data = b""
        while not data.endswith(b"\n"):
            b = s.recv(4096)
            if not b:
                break
            data += b
        s.close()
        r = json.loads(data)
        return r if r.get("ok") else None
    except (OSError, ValueError):
        return None


def main():
    if len(sys.argv) < 2:
        die("usage: bench_control.py BUILD_DIR [HOSTS] [PROCESSES]")
    build = sys.argv[1]
    hosts = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    nproc = int(sys.argv[3]) if len(sys.argv) > 3 else max(1, min(8, (hosts + 249) // 250))
    if hosts < 1 or nproc < 1 or nproc > hosts:
        die("give HOSTS >= 1 and 1 <= PROCESSES <= HOSTS")
    fabricd = os.path.join(build, "xscore/fabricd/xs-fabricd")
    directord = os.path.join(build, "director/xsdirectord/xsdirectord")
    xscored = os.path.join(build, "xscored/xscored")
    for b in (fabricd, directord, xscored):
        if not os.access(b, os.X_OK):
            die("missing " + b)
    # --no-devices: the vNIC configuration is recorded, no TAP interface is
    # made (2000 TAPs would measure the kernel, and need root).
    helptext = subprocess.run([xscored, "--help"], capture_output=True, text=True).stdout
    host_extra = ["--no-devices"] if "--no-devices" in helptext else []

    tmp = tempfile.mkdtemp(prefix="xs-bench-control.")
    procs = []
    logs = []
    wrapped = []  # the director's own pid when it runs under a tool

    def cleanup():
        for pid in wrapped:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        for _, p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for _, p in reversed(procs):
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for f in logs:
            f.close()
        if os.environ.get("KEEP") == "1":
            print("bench control: logs kept in " + tmp, file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    def start(name, argv):
        log = open(os.path.join(tmp, name + ".log"), "w")
        logs.append(log)
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        procs.append((name, p))
        return p

    try:
        fsock = os.path.join(tmp, "fabric.sock")
        csock = os.path.join(tmp, "ctl.sock")
        start("fabricd", [fabricd, "-f", "-s", fsock])
        wait_for("xs-fabricd", lambda: os.path.exists(fsock), 10, procs)
        # BENCH_DIRECTOR_WRAP="strace -f -tt -T -o /tmp/d.trace" (or perf record ...)
        wrap = os.environ.get("BENCH_DIRECTOR_WRAP", "").split()
        director = start("director", wrap + [directord, "-f", "-F", "soft:" + fsock, "--state-dir",
                                      os.path.join(tmp, "state"), "--ctl-socket", csock,
                                      "--name", "bench"])
        wait_for("the director's control socket", lambda: os.path.exists(csock), 15, procs)

        # Configuration: N profiles bound by host name, 2 vNICs each, on one
        # connection. Host i of process p is "bh<p>-<i>" (xscored --hosts).
        per = [hosts // nproc + (1 if k < hosts % nproc else 0) for k in range(nproc)]
        names = []
        for k, n in enumerate(per):
            names += ["bh%d-%d" % (k, i) if n > 1 else "bh%d" % k for i in range(n)]
        reqs = []
        for j, h in enumerate(names):
            reqs.append({"op": "profile.add", "name": "p%d" % j, "hostname": h})
            reqs.append({"op": "vnic.add", "name": "v%da" % j, "profile": "p%d" % j})
            reqs.append({"op": "vnic.add", "name": "v%db" % j, "profile": "p%d" % j})
        ctl = Ctl(csock)
        t0 = time.monotonic()
        answers = ctl.pipeline(reqs)
        t_cfg = time.monotonic() - t0
        bad = [a for a in answers if not a.get("ok")]
        if bad:
            die("%d configuration requests refused, first: %s" % (len(bad), bad[0]))
        print("configured %d profiles and %d vNICs in %.2f s (%d requests on one connection,"
              " %.0f/s)" % (hosts, 2 * hosts, t_cfg, len(reqs), len(reqs) / t_cfg))

        time.sleep(0.2)
        if wrap:
            # the director's own pid: the process with our control socket
            # in its command line that is xsdirectord (not the tool)
            out = subprocess.run(["pgrep", "-f", "--", "--ctl-socket " + csock],
                                 capture_output=True, text=True).stdout.split()
            pids = [int(p) for p in out
                    if open("/proc/%s/comm" % p).read().strip() == "xsdirectord"]
            if len(pids) != 1:
                die("cannot find the wrapped director's pid (%s)" % out)
            director = Pid(pids[0])
            wrapped.append(director.pid)
        rss0 = rss_kib(director.pid)
        cpu0 = cpu_s(director.pid)

        socks = []
        t_start = time.monotonic()
        for k, n in enumerate(per):
            d = os.path.join(tmp, "h%d" % k)
            os.mkdir(d)
            s = os.path.join(d, "xscored.sock")
            socks.append(s)
            argv = [xscored, "-f", "-F", "soft:" + fsock, "-p", "bport%d" % k, "-H", "bh%d" % k,
                    "-s", d, "-S", s] + host_extra
            if n > 1:
                argv += ["--hosts", str(n)]
            start("xscored%d" % k, argv)

        marks = {}
        deadline = t_start + TIMEOUT_S
        last = None
        while True:
            now = time.monotonic()
            for name, p in procs:
                if p.poll() is not None:
                    die("%s exited (status %s)" % (name, p.returncode))
            tot = {"hosts": 0, "sessions": 0, "sessions_up": 0, "vnics": 0}
            for s in socks:
                r = summary(s)
                if r:
                    for key in tot:
                        tot[key] += r[key]
            last = tot
            if "started" not in marks and tot["hosts"] == hosts:
                marks["started"] = now - t_start
            if "discovered" not in marks and tot["sessions"] >= hosts:
                marks["discovered"] = now - t_start
            if "up" not in marks and tot["sessions_up"] >= hosts:
                marks["up"] = now - t_start
            if tot["vnics"] >= 2 * hosts:
                marks["installed"] = now - t_start
                break
            if now > deadline:
                die("after %d s: %s" % (TIMEOUT_S, tot))
            time.sleep(0.02)
        time.sleep(0.3)  # let the director finish what it does after the last ACK
        rss1 = rss_kib(director.pid)
        cpu1 = cpu_s(director.pid)

        st = ctl.pipeline([{"op": "stats"}, {"op": "sessions.show"}])
        ctl.close()
        stats, sess = st[0].get("stats", {}), st[1]
        up = sum(1 for x in sess.get("sessions", []) if x.get("state") == "up")
        with open(os.path.join(tmp, "director.log")) as f:
            dlog = f.read()
        drops = len(re.findall(r"queue full, MAD dropped", dlog))
        hlogs = ""
        for k in range(nproc):
            with open(os.path.join(tmp, "xscored%d.log" % k)) as f:
                hlogs += f.read()
        xcpm_timeouts = len(re.findall(r"did not answer XCM_REQUEST", hlogs))
        sa_timeouts = len(re.findall(r"SA did not answer", hlogs))
        per_sess = (rss1 - rss0) / hosts

        print("hosts: %d in %d xscored process%s%s" % (hosts, nproc, "" if nproc == 1 else "es",
              " (--no-devices)" if host_extra else ""))
        print("  all hosts' summaries answer   %6.2f s" % marks.get("started", -1))
        print("  all XCM lists received        %6.2f s" % marks.get("discovered", -1))
        print("  all sessions up               %6.2f s" % marks.get("up", -1))
        print("  all %5d vNICs installed      %6.2f s" % (2 * hosts, marks["installed"]))
        print("director: %d sessions up, RSS %d -> %d KiB (%.1f KiB per session), CPU %.2f s" %
              (up, rss0, rss1, per_sess, cpu1 - cpu0))
        print("director XDS: %s XCM_REQUESTs, %s replies; MADs dropped at a full agent queue:"
              " %d" % (stats.get("xcpm_requests"), stats.get("xcpm_replies"), drops))
        print("hosts: discovery timeouts logged: XCM_REQUEST %d, SA %d" %
              (xcpm_timeouts, sa_timeouts))
        res = {
            "bench": "control",
            "hosts": hosts,
            "vnics_per_host": 2,
            "processes": nproc,
            "seconds_to_all_installed": round(marks["installed"], 3),
            "seconds_to_all_discovered": round(marks.get("discovered", -1), 3),
            "seconds_to_all_sessions_up": round(marks.get("up", -1), 3),
            "director_rss_kib_per_session": round(per_sess, 1),
            "director_rss_kib_before": rss0,
            "director_rss_kib_after": rss1,
            "director_cpu_s": round(cpu1 - cpu0, 2),
            "configure_seconds": round(t_cfg, 3),
            "xcpm_requests": stats.get("xcpm_requests"),
            "mad_queue_drops": drops,
            "goal_hosts": 1000,
            "goal_seconds": 5,
            "goal_rss_kib_per_session": 64,
        }
        print(json.dumps(res))
    finally:
        cleanup()


if __name__ == "__main__":
    main()
