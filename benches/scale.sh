#!/usr/bin/env bash
# Many videos from one process (issue 14): batch scale, group commit under a slow sync, the
# download pool, and the emulator's own capacity. Prints a Markdown section on stdout (and
# the raw key<TAB>value figures to --tsv FILE); benches/run.sh appends it to BENCHMARKS.md.
#
#   benches/scale.sh [--quick] [--sizes "1000 10000 100000"] [--sync-sizes "1000 10000"]
#                    [--timeout SECS] [--label TEXT] [--tsv FILE] [--only scale|sync|pool|emulator]
#
# --quick: sizes 1000 and 3000, sync sizes 300 and 1000 (a smoke test, about 2 minutes).
# --timeout: caps each batch run (a cancel; default 600 s, 0 for none); a capped row says how
#            many of its jobs were written and its per-task figures are per written job.
# --only: runs one of the four parts (repeatable).
# Client and server always run as two processes (benches/src/bin/batch_scale.rs and
# bench_server.rs): the client's CPU and memory are its own. Needs cargo, gcc (the fsync shim
# benches/slow_fsync.c, loaded with LD_PRELOAD: it counts fsync/fdatasync and can slow them).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

sizes="1000 10000 100000" sync_sizes="1000 10000" timeout=600 label= tsv= only=
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) sizes="1000 3000" sync_sizes="300 1000" ;;
    --sizes) sizes=$2; shift ;;
    --sync-sizes) sync_sizes=$2; shift ;;
    --timeout) timeout=$2; shift ;;
    --label) label=$2; shift ;;
    --tsv) tsv=$2; shift ;;
    --only) only="$only $2"; shift ;;
    *) echo "unknown argument $1 (see the head of $0)" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$only" ] || only="scale sync pool emulator"
wants() { case " $only " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# Task states last STATE_SECS each (3 states: a task takes 3 s); polls every POLL_SECS.
STATE_SECS=1 POLL_SECS=1 VIDEO_BYTES=4096
# The download benchmark: 40 videos of POOL_BYTES at POOL_RATE bytes/s per connection.
POOL_VIDEOS=40 POOL_BYTES=2000000 POOL_RATE=2000000 POOL_CONNECTIONS=4 POOL_SENTINELS=10

work=$(mktemp -d /dev/shm/vidu-scale.XXXXXX 2>/dev/null || mktemp -d /tmp/vidu-scale.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
results=$work/results.tsv
: >"$results"
record() { printf '%s\t%s\n' "$1" "$2" >>"$results"; }
value() { sed -n "s/^$1=//p" "$2" | tail -1; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

log "building (niced)"
nice -n 10 cargo build --release --quiet -p vidu-benches --bin batch_scale --bin bench_server --bin emu_load
bin=$root/target/release
shim=$root/target/release/libslow_fsync.so
gcc -O2 -shared -fPIC -o "$shim" benches/slow_fsync.c -ldl

# start_server NAME [flags]: bench_server in its own process; sets URL. It stops when its
# stdin (a pipe this shell holds) closes: stop_server NAME.
start_server() {
  local name=$1; shift
  mkfifo "$work/$name.in"
  "$bin/bench_server" --stats-file "$work/$name.stats" "$@" <"$work/$name.in" >"$work/$name.out" 2>&1 &
  pids+=($!)
  eval "exec {fd_$name}>\"$work/$name.in\""
  for _ in $(seq 100); do grep -q '^VIDU_BASE_URL=' "$work/$name.out" && break; sleep 0.05; done
  URL=$(value VIDU_BASE_URL "$work/$name.out")
  [ -n "$URL" ] || { log "server $name did not start"; cat "$work/$name.out" >&2; exit 1; }
}
stop_server() { eval "exec {fd_$1}>&-"; }
# server_stat NAME KEY: a figure of server NAME, as of now (the file is rewritten every 100 ms).
server_stat() { sleep 0.3; value "$2" "$work/$1.stats"; }

# batch NAME JOBS SLOW_MS [batch_scale flags]: one batch run against a fresh server; its
# figures are in $work/NAME.client, the fsync count in $work/NAME.fsyncs.
batch() {
  local name=$1 jobs=$2 slow=$3; shift 3
  start_server "$name" --state-duration "$STATE_SECS" --video-size "$VIDEO_BYTES"
  local cap=(); [ "${timeout:-0}" != 0 ] && cap=(--timeout "$timeout")
  if ! SLOW_FSYNC_MS=$slow SLOW_FSYNC_MATCH=${SLOW_MATCH:-} SLOW_FSYNC_COUNT_FILE=$work/$name.fsyncs LD_PRELOAD=$shim \
       "$bin/batch_scale" --base-url "$URL" --jobs "$jobs" --out-dir "$work/$name.out.d" \
       --journal "$work/$name.journal" --poll-interval "$POLL_SECS" "${cap[@]}" "$@" \
       >"$work/$name.client" 2>"$work/$name.err"; then
    log "batch $name failed"; tail -5 "$work/$name.err" >&2; exit 1
  fi
  server_stat "$name" submits >/dev/null
  cp "$work/$name.stats" "$work/$name.final"
  stop_server "$name"
  wc -l <"$work/$name.journal" >"$work/$name.records"
  rm -rf "$work/$name.out.d" "$work/$name.journal"
}

{
  record info.date "$(date -u '+%Y-%m-%d %H:%M UTC')"
  record info.commit "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src benches || echo ' (with local changes)')"
  record info.cores "$(nproc)"
  record info.load_start "$(cut -d' ' -f1-3 /proc/loadavg)"
  record info.label "${label:-$(git log -1 --format=%s -- src/batch.rs | cut -c1-60)}"
}

# --- 1. Scale ---------------------------------------------------------------------------------
if wants scale; then
  for n in $sizes; do
    log "scale: $n jobs"
    batch "scale$n" "$n" 0
    c=$work/scale$n.client s=$work/scale$n.final
    written=$(value written "$c")
    done_n=$written; [ "$done_n" -gt 0 ] || done_n=1
    cpu=$(calc %.3f "$(value cpu_user "$c") + $(value cpu_sys "$c")")
    record "scale.$n.jobs" "$n"
    record "scale.$n.written" "$written"
    record "scale.$n.cpu_secs" "$cpu"
    record "scale.$n.cpu_ms_per_task" "$(calc %.3f "$cpu * 1000 / $done_n")"
    record "scale.$n.hwm_mb" "$(calc %.1f "$(value hwm_kb "$c") * 1024 / 1e6")"
    record "scale.$n.wall_secs" "$(value run_secs "$c")"
    requests=$(( $(value list_calls "$s") + $(value status_polls "$s") ))
    record "scale.$n.requests" "$requests"
    # Requests per poll interval per 100 running tasks: requests counted at the server, running
    # tasks (submitted, not yet written or failed) summed over time by the client's events.
    record "scale.$n.requests_per_interval_per_100" \
      "$(calc %.2f "$requests * $POLL_SECS * 100 / ($(value task_seconds "$c") + 1e-9)")"
    record "scale.$n.fsyncs_per_task" "$(calc %.2f "$(value fsyncs "$work/scale$n.fsyncs") / $done_n")"
  done
fi

# --- 2. Group commit: the batch with its journal's sync slowed to 5 ms -------------------------
# Only the journal's syncs are slowed (SLOW_FSYNC_MATCH): each video's own fsync and its
# directory's run on the download threads and are counted apart.
if wants sync; then
  for n in $sync_sizes; do
    for slow in 0 5; do
      log "sync: $n jobs, the journal's fsync + ${slow} ms"
      SLOW_MATCH=journal batch "sync${n}_$slow" "$n" "$slow"
      record "sync.$n.$slow.wall_secs" "$(value run_secs "$work/sync${n}_$slow.client")"
      record "sync.$n.$slow.written" "$(value written "$work/sync${n}_$slow.client")"
      record "sync.$n.$slow.journal_fsyncs" "$(value matched "$work/sync${n}_$slow.fsyncs")"
      record "sync.$n.$slow.records" "$(cat "$work/sync${n}_$slow.records")"
      record "sync.$n.fsyncs" "$(value fsyncs "$work/sync${n}_$slow.fsyncs")"
    done
  done
fi

# --- 3. Download pool: a CDN paced per connection ---------------------------------------------
if wants pool; then
  log "download pool: $POOL_VIDEOS videos of $POOL_BYTES bytes at $POOL_RATE bytes/s per connection"
  start_server pool --state-duration "$STATE_SECS" --video-size "$POOL_BYTES" \
    --video-rate "$POOL_RATE" --never-finish sentinel
  "$bin/batch_scale" --base-url "$URL" --jobs "$POOL_VIDEOS" --sentinels "$POOL_SENTINELS" \
    --stop-after-written "$POOL_VIDEOS" --out-dir "$work/pool.out.d" \
    --poll-interval "$POLL_SECS" >"$work/pool.client" 2>"$work/pool.err" ||
    { log "pool run failed"; tail -5 "$work/pool.err" >&2; exit 1; }
  c=$work/pool.client
  phase=$(calc %.2f "$(value last_written_secs "$c") - $(value first_ready_secs "$c")")
  ideal=$(calc %.2f "$POOL_VIDEOS * $POOL_BYTES / $POOL_RATE / $POOL_CONNECTIONS")
  record pool.written "$(value written "$c")"
  record pool.phase_secs "$phase"
  record pool.ideal_secs "$ideal"
  record pool.ratio "$(calc %.2f "$phase / $ideal")"
  gap=$(server_stat pool longest_report_gap_secs)
  record pool.lateness_secs "$(calc %.2f "$gap - $POLL_SECS")"
  stop_server pool
  rm -rf "$work/pool.out.d"
fi

# --- 4. The emulator's capacity ---------------------------------------------------------------
if wants emulator; then
  log "emulator capacity: 100,000 tasks"
  start_server emu --state-duration 60
  "$bin/emu_load" --base-url "$URL" --stats-file "$work/emu.stats" --tasks 100000 >"$work/emu.txt"
  for k in rss_mb bytes_per_task submit_cpu_us status_cpu_us list_by_ids_cpu_us page_cpu_us pages; do
    record "emu.$k" "$(value "$k" "$work/emu.txt")"
  done
  stop_server emu
fi

record info.load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
[ -z "$tsv" ] || cp "$results" "$tsv"
python3 benches/scale_report.py "$results" "$STATE_SECS" "$POLL_SECS" "$VIDEO_BYTES" \
  "$POOL_VIDEOS" "$POOL_BYTES" "$POOL_RATE" "$POOL_CONNECTIONS" "$POOL_SENTINELS"
