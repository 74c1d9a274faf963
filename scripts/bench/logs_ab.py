#!/usr/bin/env python3
"""Log throughput, tend against `cat > file`, interleaved.

compare.py measures `cat > file` once, before every supervisor runs, so the
ratio it gives mixes two moments of a machine whose write speed drifts (on
a small VM, by a third within minutes). This alternates the two, reps
times, with compare.py's own measurements (tend's includes its start-up,
as there), and reports the medians and their ratio.

  python3 scripts/bench/logs_ab.py --tend tmp/bench/tend [--reps 9] [--log-mb 256]
"""
import argparse, os, statistics, sys, types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tend", required=True)
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--log-mb", type=int, default=256)
    a = ap.parse_args()
    tend = os.path.abspath(a.tend)
    # compare.systems picks supervisord too when installed; keep tend only.
    [s] = [s for s in compare.systems(types.SimpleNamespace(tend=tend, gosupervisord=None)) if s.name == "tend"]
    cat, ours = [], []
    for i in range(a.reps):
        cat.append(compare.raw_log_throughput(a.log_mb)["log_mb_per_s"])
        r = compare.log_throughput(s, a.log_mb)
        if "error" in r:
            sys.exit(f"tend: {r['error']}")
        ours.append(r["log_mb_per_s"])
        print(f"rep {i + 1}: cat {cat[-1]} MB/s, tend {ours[-1]} MB/s", file=sys.stderr, flush=True)
    c, t = statistics.median(cat), statistics.median(ours)
    print(f"median of {a.reps}: cat > file {c:.1f} MB/s, tend {t:.1f} MB/s, ratio {t / c:.2f}")


if __name__ == "__main__":
    main()
