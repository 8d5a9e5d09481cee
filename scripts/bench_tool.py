#!/usr/bin/env python3
"""The benchmark's measuring, checking and reporting helpers (used by bench.sh).

    bench_tool.py measure --out FILE [--interval S] [--pss-every K] -- CMD ARGS...
    bench_tool.py check --expected FILE --output FILE [--summary FILE]
    bench_tool.py table FILE

measure  runs CMD and writes one JSON object to FILE: wall time, CPU seconds
         and peak memory of CMD's whole process tree (CMD, every Chromium
         process and helper it starts), and CMD's exit status.

         CPU: this process makes itself a child subreaper
         (prctl PR_SET_CHILD_SUBREAPER), so every descendant whose parent
         exits is re-parented to it instead of init, and it reaps every
         descendant, CMD's own children after CMD is gone included. When the
         tree is empty, getrusage(RUSAGE_CHILDREN) holds the user+system time
         of every process of the tree, exactly: a process's rusage is added
         to its reaper's children's rusage, all the way up. A sampled figure
         (the last utime+stime seen per process, sampled every --interval)
         is kept beside it as a cross-check, and broken down by process
         role (the command itself, Chromium's browser, renderer, gpu-process,
         network service ...), from each process's command line.

         Memory: every --interval the tree is walked through /proc (each
         process's parent from /proc/PID/stat) and its RSS summed; every
         --pss-every samples its PSS (/proc/PID/smaps_rollup, which shares
         each shared page among the processes mapping it, so Chromium's
         shared libraries count once) is summed. The peaks of both sums are
         kept. smaps_rollup walks page tables, so it is read less often.

check    compares a scan's NDJSON output with the generator's expected.json:
         per record, the multiset of "<code> <target>" must be equal.
         Prints the accuracy and every mismatch; exit 1 below 100%.

table    reads the JSON lines bench.sh collected and prints the medians per
         regime as a Markdown table (throughput, CPU, peak PSS and targets/s
         per GiB of peak PSS, for the scan and its floor); with baseline rows
         (BENCH_BASELINE), a second table of this build against the baseline,
         with the median of the per-round ratios.
"""

import argparse
import ctypes
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--out", required=True)
    m.add_argument("--interval", type=float, default=0.1)
    m.add_argument("--pss-every", type=int, default=10)
    m.add_argument("--stdout")
    m.add_argument("--stderr")
    m.add_argument("cmd", nargs=argparse.REMAINDER)
    c = sub.add_parser("check")
    c.add_argument("--expected", required=True)
    c.add_argument("--output", required=True)
    c.add_argument("--summary")
    c.add_argument("--max-show", type=int, default=20)
    t = sub.add_parser("table")
    t.add_argument("results")
    b = sub.add_parser("brief")
    b.add_argument("measurement")
    b.add_argument("targets", type=int)
    b.add_argument("--floor-stdout")
    args = parser.parse_args()
    if args.command == "brief":
        brief(args)
        return
    if args.command == "measure":
        cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
        if not cmd:
            parser.error("measure needs a command after --")
        sys.exit(measure(cmd, args))
    if args.command == "check":
        sys.exit(check(args))
    table(args.results)


# -- measure ------------------------------------------------------------------

def read_stat(pid):
    """(ppid, start time, utime+stime ticks, rss pages) of `pid`, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: split after the last ')'.
    fields = data[data.rindex(b")") + 2:].split()
    # fields[0] is field 3 (state) of proc(5).
    return int(fields[1]), int(fields[19]), int(fields[11]) + int(fields[12]), int(fields[21])


def read_pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def role(pid, root_child):
    """What a process of the tree is: the measured command itself, or the
    Chromium process type from its command line."""
    if pid == root_child:
        return "command"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().rstrip(b"\0").split(b"\0")
    except OSError:
        return "gone"
    if len(args) == 1:
        # Chromium's helpers rewrite their command line as one string.
        args = args[0].split(b" ")
    kind = next((a[len(b"--type="):] for a in args if a.startswith(b"--type=")), None)
    if kind is None:
        return "chromium-browser" if args and b"chrom" in args[0] else "other"
    sub = next((a.split(b".")[-1] for a in args if a.startswith(b"--utility-sub-type=")), b"")
    name = kind.decode(errors="replace")
    if sub:
        name += ":" + sub.decode(errors="replace")
    return name


def tree(root):
    """{pid: stat} of every live descendant of `root`."""
    stats = {}
    children = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            st = read_stat(entry.name)
            if st is not None:
                pid = int(entry.name)
                stats[pid] = st
                children.setdefault(st[0], []).append(pid)
    out, todo = {}, list(children.get(root, []))
    while todo:
        pid = todo.pop()
        out[pid] = stats[pid]
        todo.extend(children.get(pid, []))
    return out


def measure(cmd, args):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("bench_tool: cannot become a child subreaper; CPU would miss orphans",
              file=sys.stderr)
        return 2
    me = os.getpid()
    stdout = open(args.stdout, "wb") if args.stdout else None
    stderr = open(args.stderr, "wb") if args.stderr else None
    started = time.monotonic()
    child = subprocess.Popen(cmd, stdout=stdout, stderr=stderr)
    status = None
    ended = None
    last_ticks = {}
    roles = {}
    peak_rss = peak_pss = 0
    peak_pss_by_role = {}
    max_procs = samples = 0
    grace_end = None

    def reap():
        nonlocal status, ended
        while True:
            try:
                pid, st, _ = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return False  # no children left at all
            if pid == 0:
                return True
            if pid == child.pid:
                status = os.waitstatus_to_exitcode(st)
                ended = time.monotonic()
                child.returncode = status

    while True:
        procs = tree(me)
        samples += 1
        max_procs = max(max_procs, len(procs))
        for pid, (_, start, ticks, _) in procs.items():
            last_ticks[(pid, start)] = ticks
            if (pid, start) not in roles:
                roles[(pid, start)] = role(pid, child.pid)
        peak_rss = max(peak_rss, sum(st[3] for st in procs.values()) * PAGE)
        if samples % max(args.pss_every, 1) == 1 or args.pss_every <= 1:
            pss = {pid: read_pss_kib(pid) * 1024 for pid in procs}
            if sum(pss.values()) > peak_pss:
                peak_pss = sum(pss.values())
                # Where the peak sits: the PSS and count of each kind of process.
                peak_pss_by_role = {}
                for pid, b in pss.items():
                    r = roles.get((pid, procs[pid][1]), "gone")
                    mib, n = peak_pss_by_role.get(r, (0.0, 0))
                    peak_pss_by_role[r] = (mib + b / MIB, n + 1)
        if not reap():
            break
        if status is not None:
            # CMD is gone; its stragglers get a grace period, then SIGKILL.
            grace_end = grace_end or time.monotonic() + 10
            if time.monotonic() > grace_end:
                for pid in tree(me):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        time.sleep(args.interval)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    me_usage = resource.getrusage(resource.RUSAGE_SELF)
    result = {
        "cmd": cmd,
        "exit": status,
        "wall_s": round((ended or time.monotonic()) - started, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "cpu_sampled_s": round(sum(last_ticks.values()) / CLK_TCK, 3),
        "peak_pss_mib": round(peak_pss / MIB, 1),
        "peak_rss_mib": round(peak_rss / MIB, 1),
        "max_procs": max_procs,
        "samples": samples,
        "monitor_cpu_s": round(me_usage.ru_utime + me_usage.ru_stime, 3),
        "cpu_sampled_by_role_s": by_role(last_ticks, roles),
        "peak_pss_by_role": {r: {"mib": round(mib, 1), "processes": n}
                             for r, (mib, n) in sorted(peak_pss_by_role.items())},
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f)
        f.write("\n")
    return 0


def brief(args):
    """One line for bench.sh: targets/s, CPU s, peak PSS MiB, exit (and failed floor loads)."""
    with open(args.measurement, encoding="utf-8") as f:
        m = json.load(f)
    words = [f"{args.targets / m['wall_s']:.2f}", f"{m['cpu_s']:.1f}", f"{m['peak_pss_mib']:.0f}",
             str(m["exit"])]
    if args.floor_stdout:
        try:
            with open(args.floor_stdout, encoding="utf-8") as f:
                words.append(str(json.load(f)["failed"]))
        except (OSError, ValueError, KeyError):
            words.append("?")
    print(" ".join(words))


def by_role(last_ticks, roles):
    """Sampled CPU seconds per process role (processes counted per role)."""
    out = {}
    for key, ticks in last_ticks.items():
        name = roles.get(key, "other")
        seconds, count = out.get(name, (0.0, 0))
        out[name] = (seconds + ticks / CLK_TCK, count + 1)
    return {name: {"cpu_s": round(s, 2), "processes": n}
            for name, (s, n) in sorted(out.items(), key=lambda kv: -kv[1][0])}


# -- check --------------------------------------------------------------------

def check(args):
    with open(args.expected, encoding="utf-8") as f:
        expected = json.load(f)
    got, seen, crawler_errors = {}, {}, 0
    with open(args.output, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            report = json.loads(line)
            domain = report.get("domain", "")
            seen[domain] = seen.get(domain, 0) + 1
            findings = sorted(f"{x['code']} {x.get('target') or 'record'}"
                              for x in report.get("findings", []))
            crawler_errors += sum(1 for x in report.get("findings", []) if x["code"] == "crawler-error")
            got[domain] = findings
    mismatches = []
    for domain, want in sorted(expected.items()):
        have = got.get(domain)
        if have is None:
            mismatches.append((domain, "no output line", want, []))
        elif seen[domain] > 1:
            mismatches.append((domain, f"{seen[domain]} output lines", want, have))
        elif have != sorted(want):
            mismatches.append((domain, "findings differ", want, have))
    extra = sorted(set(got) - set(expected))
    total = len(expected)
    correct = total - len(mismatches)
    accuracy = 100.0 * correct / total if total else 100.0
    print(f"accuracy: {correct}/{total} records = {accuracy:.1f}%"
          + (f", {crawler_errors} crawler-error findings" if crawler_errors else "")
          + (f", {len(extra)} unexpected domains" if extra else ""))
    for domain, why, want, have in mismatches[:args.max_show]:
        missing = sorted(set(want) - set(have))
        unexpected = sorted(set(have) - set(want))
        print(f"  MISMATCH {domain}: {why}; missing {missing}; unexpected {unexpected}")
    if len(mismatches) > args.max_show:
        print(f"  … and {len(mismatches) - args.max_show} more")
    if args.summary:
        with open(args.summary, "w", encoding="utf-8") as f:
            json.dump({"records": total, "correct": correct, "accuracy": accuracy,
                       "crawler_errors": crawler_errors}, f)
            f.write("\n")
    return 0 if correct == total and not extra else 1


# -- table --------------------------------------------------------------------

def table(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    regimes = []
    for r in rows:
        if r["regime"] not in regimes:
            regimes.append(r["regime"])

    def med(items, key):
        values = [key(r) for r in items]
        return statistics.median(values) if values else float("nan")

    def tps(r):
        return r["targets"] / r["wall_s"]

    def per_gib(r):
        return tps(r) / (r["peak_pss_mib"] / 1024)

    def pages(items):
        levels = sorted(r["pages"] for r in items if "pages" in r)
        return "-" if not levels else (
            str(levels[0]) if levels[0] == levels[-1] else f"{levels[0]}–{levels[-1]}")

    print("| regime | floor t/s | scan t/s | ratio | CPU s/target | peak tree MiB "
          "| scan t/s per GiB | floor CPU s/target | floor peak MiB | floor t/s per GiB "
          "| floor best conc. | scan pages at the end | accuracy | runs |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for regime in regimes:
        floor = [r for r in rows if r["regime"] == regime and r["role"] == "floor"]
        scan = [r for r in rows if r["regime"] == regime and r["role"] == "scan"]
        floor_tps = med(floor, tps)
        scan_tps = med(scan, tps)
        worst = min((r.get("accuracy", 0.0) for r in scan), default=float("nan"))
        conc = floor[0]["concurrency"] if floor else "-"
        print(f"| {regime} | {floor_tps:.2f} | {scan_tps:.2f} | {scan_tps / floor_tps:.2f} "
              f"| {med(scan, lambda r: r['cpu_s'] / r['targets']):.3f} "
              f"| {med(scan, lambda r: r['peak_pss_mib']):.0f} "
              f"| {med(scan, per_gib):.1f} "
              f"| {med(floor, lambda r: r['cpu_s'] / r['targets']):.3f} "
              f"| {med(floor, lambda r: r['peak_pss_mib']):.0f} "
              f"| {med(floor, per_gib):.1f} "
              f"| {conc} | {pages(scan)} | {worst:.1f}% | {len(scan)} |")

    if not any(r["role"] == "baseline" for r in rows):
        return
    # This build against the baseline build, round by round (the two ran
    # back to back in each round, in alternating order): medians of each
    # and of the per-round ratios.
    print()
    print("| regime | baseline t/s | this t/s | t/s ratio | baseline peak MiB | this peak MiB "
          "| peak ratio | baseline t/s per GiB | this t/s per GiB | baseline CPU s/target "
          "| this CPU s/target | this pages at the end | accuracy (both) | rounds |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for regime in regimes:
        base = {r["run"]: r for r in rows if r["regime"] == regime and r["role"] == "baseline"}
        this = {r["run"]: r for r in rows if r["regime"] == regime and r["role"] == "scan"}
        rounds = sorted(set(base) & set(this))
        if not rounds:
            continue
        b = [base[n] for n in rounds]
        t = [this[n] for n in rounds]
        tps_ratio = statistics.median(tps(this[n]) / tps(base[n]) for n in rounds)
        peak_ratio = statistics.median(this[n]["peak_pss_mib"] / base[n]["peak_pss_mib"] for n in rounds)
        worst = min(r.get("accuracy", 0.0) for r in b + t)
        print(f"| {regime} | {med(b, tps):.2f} | {med(t, tps):.2f} | {tps_ratio:.2f} "
              f"| {med(b, lambda r: r['peak_pss_mib']):.0f} | {med(t, lambda r: r['peak_pss_mib']):.0f} "
              f"| {peak_ratio:.2f} | {med(b, per_gib):.1f} | {med(t, per_gib):.1f} "
              f"| {med(b, lambda r: r['cpu_s'] / r['targets']):.3f} "
              f"| {med(t, lambda r: r['cpu_s'] / r['targets']):.3f} "
              f"| {pages(t)} | {worst:.1f}% | {len(rounds)} |")


if __name__ == "__main__":
    main()
