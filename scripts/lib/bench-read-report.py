#!/usr/bin/python3
"""Turn the results of scripts/bench-read into its section of
docs/benchmarks.md (between the bench-read markers, leaving the rest of the
file as it is) and a PNG plot of throughput per workload and tool.

Usage: bench-read-report.py RESULTS.tsv BENCHMARKS.md PLOT.png RTT_MS WINDOW PHOTOS LOAD
"""

import csv
import datetime
import os
import platform
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

START = "<!-- bench-read:start -->"
END = "<!-- bench-read:end -->"
TOOLS = ["swiftmount", "swiftmount-no-prefetch", "rclone", "curl"]
COLORS = {
    "swiftmount": "#1f77b4",
    "swiftmount-no-prefetch": "#9ecae1",
    "rclone": "#ff7f0e",
    "curl": "#7f7f7f",
}
MIB = 1024 * 1024
# The curl row each workload is compared with: curl has no `cat`.
CURL_BASELINE = {"sequential-cat": "sequential-dd"}


def load(path):
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    for row in rows:
        row["seconds"] = float(row["seconds"])
        row["bytes"] = int(row["bytes"])
        row["mbps"] = row["bytes"] / row["seconds"] / 1e6
    return rows


def find(rows, workload, tool):
    for row in rows:
        if row["workload"] == workload and row["tool"] == tool:
            return row
    return None


def ratio(rows, row, other_tool):
    workload = row["workload"]
    if other_tool == "curl":
        workload = CURL_BASELINE.get(workload, workload)
    other = find(rows, workload, other_tool)
    if other is None or row["tool"] == other_tool:
        return ""
    return f"{row['mbps'] / other['mbps']:.2f}"


def package_version(name):
    try:
        return subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_model():
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def results_table(rows):
    lines = [
        "| workload | tool | time (s) | MB/s | vs curl | vs rclone "
        "| fetched / read | peak RSS (MiB) | command |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        fetched = ""
        if row["fetched"] not in ("-", ""):
            fetched = f"{int(row['fetched']) / row['bytes']:.2f}"
        rss = ""
        if row["peak_rss_kib"] not in ("-", ""):
            rss = f"{int(row['peak_rss_kib']) / 1024:.1f}"
        lines.append(
            f"| {row['workload']} | {row['tool']} | {row['seconds']:.2f} "
            f"| {row['mbps']:.1f} | {ratio(rows, row, 'curl')} "
            f"| {ratio(rows, row, 'rclone')} | {fetched} | {rss} "
            f"| `{row['command']}` |"
        )
    return lines


def targets_table(rows):
    lines = [
        "| target | measured | met |",
        "|---|---|---|",
    ]

    def add(name, value, text, met):
        if value is None:
            lines.append(f"| {name} | not measured | no |")
        else:
            lines.append(f"| {name} | {text} | {'yes' if met else 'no'} |")

    for workload in ("sequential-dd", "sequential-cat"):
        mine = find(rows, workload, "swiftmount")
        curl = find(rows, "sequential-dd", "curl")
        value = mine["mbps"] / curl["mbps"] if mine and curl else None
        add(
            f"{workload}: at least 95% of curl on loopback",
            value,
            f"{value:.0%}" if value is not None else "",
            value is not None and value >= 0.95,
        )
    mine = find(rows, "delayed", "swiftmount")
    single = find(rows, "delayed", "curl")
    value = mine["mbps"] / single["mbps"] if mine and single else None
    add(
        "delayed: at least 4x a single-stream read (curl)",
        value,
        f"{value:.1f}x" if value is not None else "",
        value is not None and value >= 4,
    )
    heads = find(rows, "photo-heads", "swiftmount")
    value = int(heads["fetched"]) / heads["bytes"] if heads else None
    add(
        "photo-heads: at most 1.5x the bytes asked fetched",
        value,
        f"{value:.2f}x" if value is not None else "",
        value is not None and value <= 1.5,
    )
    for workload in ("sequential-dd", "sequential-cat"):
        mine = find(rows, workload, "swiftmount")
        value = int(mine["peak_rss_kib"]) / 1024 if mine else None
        add(
            f"{workload}: peak RSS at most 64 MiB",
            value,
            f"{value:.1f} MiB" if value is not None else "",
            value is not None and value <= 64,
        )
    return lines


def section(rows, plot_name, rtt_ms, window, photos, load):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        START,
        "## Read path (`scripts/bench-read`)",
        "",
        f"Measured {now} on {os.cpu_count()} cores ({cpu_model()}), Linux "
        f"{platform.release()}, against the local Swift {package_version('swift')} "
        "of `scripts/swift-up` (tempauth, one replica, on the same machine), "
        f"with rclone {package_version('rclone')} and curl "
        f"{package_version('curl')}. The machine was shared with other work: "
        f"load average (1, 5, 15 min) {load}. Regenerate with `scripts/bench-read`.",
        "",
        "Workloads, each on a fresh mount with default options and a cold page cache:",
        "",
        "- `sequential-dd`, `sequential-cat`: one 1 GiB object read from start "
        "to end; curl's `GET` of the same object is the loopback limit.",
        f"- `photo-heads`: the first 256 KiB of each of {photos} objects of 0.5 "
        "to 6 MB, 8 readers in parallel. `fetched / read` is swiftmount's "
        "`bytes_in` counter (`user.swiftmount.stats`) over the bytes read.",
        f"- `photo-whole`: the same {photos} objects read whole, 8 in parallel.",
        "- `parallel-8`: 8 objects of 256 MiB read at once, one reader each.",
        f"- `delayed`: one 256 MiB object through `scripts/lib/delay-proxy.py`, "
        f"which adds {rtt_ms} ms per round trip and lets each connection carry "
        f"at most {window // 1024} KiB per round trip, like a TCP connection "
        "whose window stops growing. curl's single stream is the baseline; "
        "`swiftmount-no-prefetch` is swiftmount with `--prefetch-threads 0`, "
        "one request at a time per file.",
        "",
        "Peak RSS is `VmHWM` of the mount process at the end of the workload; "
        "for rclone it is rclone's.",
        "",
        "### Targets",
        "",
        *targets_table(rows),
        "",
        "### Results",
        "",
        *results_table(rows),
        "",
        f"![read throughput per workload]({plot_name})",
        END,
    ]
    return "\n".join(lines) + "\n"


def write_report(path, text):
    try:
        with open(path) as handle:
            current = handle.read()
    except FileNotFoundError:
        current = "# Benchmarks\n\n"
    if START in current and END in current:
        before = current.split(START, 1)[0]
        after = current.split(END, 1)[1].lstrip("\n")
        updated = before + text + ("\n" + after if after else "")
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    with open(path, "w") as handle:
        handle.write(updated)


def plot(rows, path):
    workloads = []
    for row in rows:
        if row["workload"] not in workloads:
            workloads.append(row["workload"])
    tools = [tool for tool in TOOLS if any(row["tool"] == tool for row in rows)]
    height = 0.8 / len(tools)
    figure, axes = plt.subplots(figsize=(9, 1 + 0.9 * len(workloads)))
    for index, tool in enumerate(tools):
        positions, values = [], []
        for position, workload in enumerate(workloads):
            row = find(rows, workload, tool)
            if row is not None:
                positions.append(position + index * height)
                values.append(row["bytes"] / row["seconds"] / MIB)
        axes.barh(positions, values, height, label=tool, color=COLORS[tool])
    axes.set_yticks([p + 0.4 - height / 2 for p in range(len(workloads))])
    axes.set_yticklabels(workloads)
    axes.invert_yaxis()
    axes.set_xlabel("throughput (MiB/s, higher is better)")
    axes.set_title("swiftmount read path against rclone mount and curl")
    axes.legend(loc="lower right")
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main():
    if len(sys.argv) != 8:
        sys.exit(__doc__)
    results, report, plot_path, rtt_ms, window, photos, machine_load = sys.argv[1:]
    rows = load(results)
    plot(rows, plot_path)
    text = section(
        rows, os.path.basename(plot_path), int(rtt_ms), int(window), int(photos), machine_load
    )
    write_report(report, text)


if __name__ == "__main__":
    main()
