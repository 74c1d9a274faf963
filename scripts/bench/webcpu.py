#!/usr/bin/env python3
"""The daemon's CPU with the web page open, and with nobody looking.

Starts tend with N `sleep` programs and an HTTP door on 127.0.0.1, then
measures the daemon's CPU seconds (utime+stime from /proc) over a window
three times: nobody looking, the web page open in headless Chromium (which
polls /ui/usage once per 5 s step and keeps the event stream open), and
after the browser is closed. The page's sampling must stop with it.

Usage: webcpu.py [--tend PATH] [-n 200] [--window 10] [--chromium PATH]
"""
import argparse, os, shutil, signal, socket, subprocess, sys, tempfile, time


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def window(pid, secs):
    c0 = cpu_s(pid)
    time.sleep(secs)
    return round(cpu_s(pid) - c0, 3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tend", default="tend")
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--window", type=float, default=10)
    ap.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="webcpu")
    port = free_port()
    conf = os.path.join(d, "tend.lua")
    with open(conf, "w") as f:
        f.write(f"""daemon {{
  logfile = "{d}/daemon.log", pidfile = "{d}/daemon.pid", childlogdir = "{d}",
  socket = {{ path = "{d}/sock" }}, http = {{ listen = "127.0.0.1:{port}", allow_no_auth = true }},
}}
program "w" {{
  command = "sleep 100000", numprocs = {a.n}, process_name = "%(program_name)s_%(process_num)03d",
  startsecs = 0, stdout_logfile = "NONE", stderr_logfile = "NONE",
}}
""")
    tend = subprocess.Popen([a.tend, "daemon", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    browser = None
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end:
            out = subprocess.run([a.tend, "-c", conf, "status"], capture_output=True, text=True).stdout
            if out.count("RUNNING") == a.n:
                break
            time.sleep(0.5)
        else:
            sys.exit("the programs did not all reach RUNNING")
        time.sleep(2)
        closed_before = window(tend.pid, a.window)
        browser = subprocess.Popen([a.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                    "--user-data-dir=" + os.path.join(d, "profile"), f"http://127.0.0.1:{port}/"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(15)  # the page loads (slowly on a busy machine), connects and starts polling
        opened = window(tend.pid, a.window)
        browser.send_signal(signal.SIGTERM)
        browser.wait(timeout=30)
        browser = None
        time.sleep(2)
        closed_after = window(tend.pid, a.window)
        print(f"{a.n} programs, daemon CPU seconds over {a.window:g} s: nobody looking {closed_before}, "
              f"page open {opened}, page closed again {closed_after}")
    finally:
        if browser:
            browser.kill()
        tend.send_signal(signal.SIGTERM)
        tend.wait(timeout=60)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
