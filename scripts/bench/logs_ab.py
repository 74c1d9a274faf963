#!/usr/bin/env python3
"""Log throughput, tend against `cat > file`, interleaved.

compare.py measures `cat > file` once, before every supervisor runs, so the
ratio it gives mixes two moments of a machine whose write speed drifts (on
a small VM, by a third within minutes). This alternates the two, reps
times, with compare.py's own measurements (tend's includes its start-up,
as there), and reports the medians and their ratio.

  python3 scripts/bench/logs_ab.py --tend tmp/bench/tend [--base OLD_TEND] [--reps 9] [--log-mb 256]

With --base, a second tend binary (the build before a change) joins the
rotation, so a change is measured against the same moments as cat.
The daemon's CPU seconds per GB logged are reported for each binary, and
the load average before and after (other work on a shared machine skews
every figure; above the core count, say so).
"""
import argparse, os, statistics, sys, types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tend", required=True)
    ap.add_argument("--base")
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--log-mb", type=int, default=256)
    a = ap.parse_args()
    bins = {"tend": a.tend}
    if a.base:
        bins["base"] = a.base
    runs = {}
    for name, path in bins.items():
        # compare.systems picks supervisord too when installed; keep tend only.
        ns = types.SimpleNamespace(tend=os.path.abspath(path), gosupervisord=None)
        [runs[name]] = [s for s in compare.systems(ns) if s.name == "tend"]
    cat, speed, cpu = [], {n: [] for n in bins}, {n: [] for n in bins}
    load0 = os.getloadavg()
    for i in range(a.reps):
        cat.append(compare.raw_log_throughput(a.log_mb)["log_mb_per_s"])
        line = f"rep {i + 1}: cat {cat[-1]} MB/s"
        for name, s in runs.items():
            r = compare.log_throughput(s, a.log_mb)
            if "error" in r:
                sys.exit(f"{name}: {r['error']}")
            speed[name].append(r["log_mb_per_s"])
            cpu[name].append(r["daemon_cpu_s_per_gb"])
            line += f", {name} {speed[name][-1]} MB/s ({cpu[name][-1]} CPU s/GB)"
        print(line, file=sys.stderr, flush=True)
    c = statistics.median(cat)
    out = f"median of {a.reps}: cat > file {c:.1f} MB/s"
    for name in bins:
        t = statistics.median(speed[name])
        ratios = statistics.median(x / y for x, y in zip(speed[name], cat))
        out += (f"; {name} {t:.1f} MB/s, ratio {t / c:.2f} (median of per-rep ratios {ratios:.2f}),"
                f" daemon CPU {statistics.median(cpu[name]):.2f} s/GB")
    load1 = os.getloadavg()
    out += (f"; load average {load0[0]:.2f} before, {load1[0]:.2f} after"
            f" ({os.cpu_count()} cores)")
    print(out)


if __name__ == "__main__":
    main()
