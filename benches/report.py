"""Writes BENCHMARKS.md (on stdout) from the key<TAB>value lines benches/run.sh recorded.

A key recorded several times is a sample (one per round): the document gives its median with
min and max; ratios are ratios of medians from the same run.
"""

import statistics
import sys
from collections import defaultdict

data = defaultdict(list)
for line in open(sys.argv[1], encoding="utf-8"):
    key, _, value = line.rstrip("\n").partition("\t")
    data[key].append(value)


def info(key, default="?"):
    return data[key][-1] if data.get(key) else default


def nums(key):
    out = []
    for v in data.get(key, []):
        try:
            out.append(float(v))
        except ValueError:
            pass
    return out


def med(key):
    v = nums(key)
    return statistics.median(v) if v else None


def fig(key, scale=1.0, digits=1, unit=""):
    """'median (min–max) unit', or '—' when not measured."""
    v = [x * scale for x in nums(key)]
    if not v:
        return "—"
    m = statistics.median(v)
    text = f"{m:,.{digits}f}"
    if len(v) > 1:
        text += f" ({min(v):,.{digits}f}–{max(v):,.{digits}f})"
    return f"{text} {unit}".strip()


KIB_TO_MB = 1024 / 1e6
rows = []  # (what, ours, peers, ratio, target, verdict)
misses = []  # (what, gap, fix)


def verdict(ok):
    """ok: True/False against a target; "info" for a figure without one; None: not measured."""
    if ok is None:
        return "not measured"
    if ok == "info":
        return "—"
    return "pass" if ok else "**MISS**"


def row(what, ours, peers, ratio, target, ok, gap=None, fix=None):
    rows.append((what, ours, peers, ratio, target, verdict(ok)))
    if ok is False:
        misses.append((what, gap, fix))


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def rtext(r, digits=2, suffix="x"):
    return "—" if r is None else f"{r:.{digits}f}{suffix}"


# --- inline images ---------------------------------------------------------------------------
PEER_NAMES = {
    "naive": "naive in-memory body (Rust)",
    "requests": "Python `requests`",
    "curl": "`curl --data-binary @body.json`",
}
for mb in (40, 10):
    k = f"inline{mb}"
    rss = {p: med(f"{k}.{p}.rss") for p in ("cli", *PEER_NAMES)}
    secs = {p: med(f"{k}.{p}.secs") for p in ("cli", *PEER_NAMES)}
    peers = "<br>".join(
        f"{name}: {fig(f'{k}.{p}.rss', KIB_TO_MB, 1, 'MB')}" for p, name in PEER_NAMES.items()
    )
    r = ratio(rss["cli"], rss["requests"])
    row(
        f"{mb} MB image inline: peak RSS",
        f"example CLI: {fig(f'{k}.cli.rss', KIB_TO_MB, 1, 'MB')}",
        peers,
        f"{rtext(r, 3)} of requests'",
        "≤ 1/8 (0.125x) of requests'",
        None if r is None else r <= 0.125,
        gap=f"{rtext(r, 3)} of requests' RSS instead of ≤ 0.125x",
        fix="stream the body from the file through one fixed buffer (`DataUriReader` into the request body) so that neither the image nor its base64 is ever held, and check that no layer (a retry, a log) keeps a copy",
    )
    peers = "<br>".join(
        f"{name}: {fig(f'{k}.{p}.secs', 1, 3, 's')}" for p, name in PEER_NAMES.items()
    )
    r = ratio(secs["cli"], secs["curl"])
    row(
        f"{mb} MB image inline: submit time (process start to exit)",
        f"example CLI: {fig(f'{k}.cli.secs', 1, 3, 's')}",
        peers,
        f"{rtext(r)} curl's",
        "≤ 1.5x curl's",
        None if r is None else r <= 1.5,
        gap=f"{rtext(r)} curl's time instead of ≤ 1.5x",
        fix="send with larger writes (a 256 KiB buffer between `DataUriReader` and the socket); note that the CLI figure also includes one status poll and the sample download after the submit",
    )

# --- body encoding ---------------------------------------------------------------------------
ours = med("encode.data_uri_streamed.mb_per_sec")
r = ratio(ours, med("encode.memcpy.mb_per_sec"))
row(
    "body encoding throughput (MB of image per second)",
    f"streamed data URI: {fig('encode.data_uri_streamed.mb_per_sec', 1, 0, 'MB/s')}",
    f"memcpy of the same size: {fig('encode.memcpy.mb_per_sec', 1, 0, 'MB/s')}<br>"
    f"read through a hot 64 KiB buffer: {fig('encode.memcpy_64k.mb_per_sec', 1, 0, 'MB/s')}"
    f" (ours: {rtext(ratio(ours, med('encode.memcpy_64k.mb_per_sec')))} of it)<br>"
    f"base64 scalar engine (`STANDARD`): {fig('encode.base64_scalar.mb_per_sec', 1, 0, 'MB/s')}"
    f" (ours: {rtext(ratio(ours, med('encode.base64_scalar.mb_per_sec')))} of it)",
    f"{rtext(r)} memcpy",
    "≥ 0.40x memcpy",
    None if r is None else r >= 0.40,
    gap=f"{rtext(r)} of memcpy instead of ≥ 0.40x",
    fix="encode straight into the caller's buffer when it has room for a whole chunk (dropping the copy out of the output buffer) and read the source in larger chunks (256 KiB), keeping the SIMD engine",
)

# --- status polls ----------------------------------------------------------------------------
ours = med("polls.keepalive.per_sec")
r = ratio(ours, med("polls.fresh.per_sec"))
row(
    "status polls per second, one kept-alive connection",
    f"client: {fig('polls.keepalive.per_sec', 1, 0, '/s')}",
    f"new client (agent, connection) per poll: {fig('polls.fresh.per_sec', 1, 0, '/s')}",
    f"{rtext(r)} the new-agent loop",
    "≥ 5,000/s",
    None if ours is None else ours >= 5000,
    gap=f"{ours or 0:,.0f}/s instead of ≥ 5,000/s",
    fix="keep the kept-alive connection (one ureq agent per `Client`) and parse the status reply into typed structs per provider instead of a `serde_json::Value`; callgrind's per-function costs show where the instructions go",
)
conns = med("polls.wait50.connections")
row(
    f"connections for a submit + {info('polls.wait50.polls')}-poll wait (emulator's count)",
    f"{conns:.0f}" if conns is not None else "—",
    "—",
    "—",
    "1",
    None if conns is None else conns == 1,
    gap=f"{conns} connections instead of 1",
    fix="one ureq agent per `Client`, and every reply body read to its end so that the connection goes back to the pool",
)
before, during = med("polls.wait50.threads_before"), med("polls.wait50.threads_during")
row(
    "threads during that wait (/proc/self/task)",
    f"{before:.0f} before, at most {during:.0f} during" if during is not None else "—",
    "—",
    "—",
    "no thread per poll (during = before)",
    None if during is None else during == before,
    gap=f"{during - before:.0f} more thread(s) while polling" if during is not None else None,
    fix="poll on the caller's thread: ureq's timeouts are socket options, so no thread per poll or per timeout is needed",
)
ir = med("polls.instructions_per_poll")
row(
    "instructions per status poll (callgrind)",
    f"{ir:,.0f}" if ir is not None else "—",
    "—",
    "—",
    "— (a stable figure to compare runs)",
    None if ir is None else "info",
)

# --- CPU of a wait ---------------------------------------------------------------------------
cpu = med("wait.cpu_ms")
row(
    f"CPU time of a {info('wait.secs')} s wait ({info('wait.polls')} polls, default schedule)",
    f"{cpu:.1f} ms" if cpu is not None else "—",
    "—",
    "—",
    "< 50 ms (for 60 s)",
    None if cpu is None else cpu < 50,
    gap=f"{cpu} ms instead of < 50 ms",
    fix="sleep each poll delay in one call (a condition variable for the cancel token, no short ticks) and keep the default schedule growing to 15 s",
)

# --- download --------------------------------------------------------------------------------
size_mib = (med("download.bytes") or 0) / 2**20
ours = med("download.client.mb_per_sec")
r = ratio(ours, med("download.curl.mb_per_sec"))
row(
    f"{size_mib:,.0f} MiB download: throughput (to {info('download.dir')})",
    f"`Client::download`: {fig('download.client.mb_per_sec', 1, 0, 'MB/s')}",
    f"`curl -o`: {fig('download.curl.mb_per_sec', 1, 0, 'MB/s')}",
    f"{rtext(r)} curl's",
    "≥ 0.8x curl's",
    None if r is None else r >= 0.8,
    gap=f"{rtext(r)} curl's throughput instead of ≥ 0.8x",
    fix="copy with a larger buffer (256 KiB) straight into the file and sync once at the end, not per chunk",
)
ours = med("download.client.rss")
r = ratio(ours, med("download.curl.rss"))
row(
    f"{size_mib:,.0f} MiB download: peak RSS",
    f"bench process (submit, wait, download): {fig('download.client.rss', KIB_TO_MB, 1, 'MB')}",
    f"`curl -o`: {fig('download.curl.rss', KIB_TO_MB, 1, 'MB')}",
    f"{rtext(r)} curl's",
    "≤ 16 MB",
    None if ours is None else ours * KIB_TO_MB <= 16,
    gap=f"{(ours or 0) * KIB_TO_MB:.1f} MB instead of ≤ 16 MB",
    fix="stream the video through one fixed buffer; never collect the body in memory",
)

# --- batch -----------------------------------------------------------------------------------
if data.get("batch.error"):
    row("1,000 tasks from one thread (batch runner)", info("batch.error"), "—", "—",
        "see issue 8", None)
else:
    rpi = med("batch.requests_per_interval")
    row(
        "1,000 tasks from one thread: API requests per poll interval (official API)",
        f"{rpi:.2f} ({info('batch.list_calls')} list calls, {info('batch.status_polls')} status polls, "
        f"{info('batch.secs')} s)" if rpi is not None else "—",
        "—", "—", "≤ 10 (one per 100 running tasks)",
        None if rpi is None else rpi <= 10,
        gap=f"{rpi} requests per interval instead of ≤ 10",
        fix="on the official API, one task-list call (`GET /ent/v2/tasks`) per interval covers up to 100 running tasks; poll a task's own status only when the list does not show it",
    )
    share = med("batch.cpu_share")
    row(
        "1,000 tasks: CPU, share of one core",
        f"{share * 100:.1f}%" if share is not None else "—",
        "—", "—", "< 5%", None if share is None else share < 0.05,
        gap=f"{(share or 0) * 100:.1f}% instead of < 5%",
        fix="one sleep per poll interval for all tasks (the next deadline of a heap of tasks), not one per task; parse list pages into typed structs",
    )
    rss = med("batch.rss")
    row(
        "1,000 tasks: peak RSS (URL images)",
        fig("batch.rss", KIB_TO_MB, 1, "MB"),
        "—", "—", "< 32 MB", None if rss is None else rss * KIB_TO_MB < 32,
        gap=f"{(rss or 0) * KIB_TO_MB:.1f} MB instead of < 32 MB",
        fix="keep per-task state small (ids and paths; statuses dropped once acted on) and download through one fixed buffer",
    )
reopen = med("journal.reopen_ms")
row(
    "reopen a journal of 100,000 records (median of 5)",
    f"{reopen:.1f} ms" if reopen is not None else "—",
    "—", "—", "< 200 ms", None if reopen is None else reopen < 200,
    gap=f"{reopen} ms instead of < 200 ms",
    fix="replay the journal in one buffered pass with a typed record parser, and compact it on open when most records are superseded",
)

# --- footprint -------------------------------------------------------------------------------
so = med("footprint.so_bytes")
row(
    "stripped `libvidu.so` (default features: with the emulator)",
    f"{so / 1e6:.2f} MB" if so else "—",
    "—", "—", "≤ 2.5 MB", None if so is None else so <= 2.5e6,
    gap=f"{(so or 0) / 1e6:.2f} MB instead of ≤ 2.5 MB",
    fix="the default .so carries the emulator (a default feature) and is built with the default release profile. Build the C artifact without the emulator (`--no-default-features`, the coming `capi` feature) and with a size profile (`lto = \"fat\"`, `codegen-units = 1`, `opt-level = \"s\"`; `panic` stays `unwind`: the C boundary catches panics); the footprint rows give what each step yields in this run",
)
so = med("footprint.so_noemu_bytes")
if so:
    row("stripped `libvidu.so`, `--no-default-features` (no emulator)", f"{so / 1e6:.2f} MB",
        "—", "—", "—", "info")
so = med("footprint.so_small_bytes")
if so:
    row("stripped `libvidu.so`, no emulator, with `lto = \"fat\"`, `codegen-units = 1`, "
        "`opt-level = \"s\"` (a profile override, not the shipped build)",
        f"{so / 1e6:.2f} MB", "—", "—", "≤ 2.5 MB", "info")
c = med("footprint.c_example_bytes")
cs = med("footprint.c_example_stripped_bytes")
row(
    "C example, statically linked (`make -C examples/c PROFILE=release`)",
    f"{c / 1e6:.2f} MB ({cs / 1e6:.2f} MB stripped)" if c else "—",
    "—", "—", "—", None if c is None else "info",
)
n = med("footprint.crates")
row("crates in the normal dependency graph (this one included)", f"{n:.0f}" if n else "—",
    "—", "—", "—", None if n is None else "info")
t = med("footprint.clean_release_secs")
row("clean release build of the library (niced, shared machine)", f"{t:.0f} s" if t else "—",
    "—", "—", "—", None if t is None else "info")
t = med("footprint.quickstart_secs")
row("quickstart: fresh clone, `cargo build --example img2video` (warm registry)",
    f"{t:.0f} s" if t else "—", "—", "—", "—", None if t is None else "info")

# --- the document ----------------------------------------------------------------------------
out = []
w = out.append
w("# Benchmarks")
w("")
w("Generated by `benches/run.sh` (do not edit by hand: rerun it). What this client costs its")
w("host, beside what a user would use instead, measured in the same run: peers alternate with")
w(f"this project within each round ({info('info.rounds')} round(s)); each figure is the median,")
w("with min and max in brackets; ratios are ratios of medians. MB = 10^6 bytes; RSS is the peak")
w("resident set of the process as `/usr/bin/time` reports it.")
w("")
w("**The machine is shared with other jobs (load average "
  f"{info('info.load_start')} at the start, {info('info.load_end')} at the end)**: absolute")
w("times move from run to run and from machine to machine; the ratios of one run are what hold.")
w("")
w("| machine | |")
w("|---|---|")
w(f"| CPU | {info('info.cpu')}, {info('info.cores')} cores |")
w(f"| OS | {info('info.os')} |")
w(f"| Rust | {info('info.rustc')} |")
w(f"| peers | {info('info.curl')}; {info('info.python')} |")
w(f"| run | {info('info.date')}, commit {info('info.commit')} |")
w("")
w("| what | this project | peers, same run | ratio | target | result |")
w("|---|---|---|---|---|---|")
for r in rows:
    w("| " + " | ".join(str(c) for c in r) + " |")
w("")
w("## Missed targets")
w("")
if misses:
    for what, gap, fix in misses:
        w(f"- **{what}**: {gap}. Design change that would close it: {fix}.")
else:
    w("None in this run.")
w("")
sys.stdout.write("\n".join(out) + "\n")
# The hand-written part (what each figure is, the analysis of misses) follows the table.
notes = sys.argv[2] if len(sys.argv) > 2 else None
if notes:
    sys.stdout.write("\n" + open(notes, encoding="utf-8").read())
