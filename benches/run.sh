#!/usr/bin/env bash
# Runs every comparison of BENCHMARKS.md in one run and rewrites BENCHMARKS.md (by hand, not CI).
#
#   benches/run.sh [--quick] [--rounds N] [--wait-secs S] [--download-mb MB] [--no-clean-builds]
#                  [--out FILE]
#
# --quick: 1 round, a 5 s wait, a 128 MiB download, no clean builds, written to
#          target/BENCHMARKS.quick.md unless --out is given (a smoke test of the script).
# Peers run in the same run as this project, alternating with it (A B ... B A in turn), for
# several rounds; the document gives medians with min and max, and ratios of medians.
# Needs: cargo, python3 (a venv with `requests` is made in target/bench-venv), curl,
# /usr/bin/time, valgrind (optional: instructions per poll), make and cc (the C example), gcc
# (benches/scale.sh's fsync shim). The last section comes from benches/scale.sh (issue 14).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

rounds=5 wait_secs=60 download_mb=1024 clean_builds=1 quick=0 out=
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 rounds=1 wait_secs=5 download_mb=128 clean_builds=0 ;;
    --rounds) rounds=$2; shift ;;
    --wait-secs) wait_secs=$2; shift ;;
    --download-mb) download_mb=$2; shift ;;
    --no-clean-builds) clean_builds=0 ;;
    --out) out=$2; shift ;;
    *) echo "unknown argument $1 (see the head of $0)" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$out" ] || { [ "$quick" = 1 ] && out=target/BENCHMARKS.quick.md || out=BENCHMARKS.md; }

NICE="nice -n 10"
work=$(mktemp -d /tmp/vidu-bench.XXXXXX)
results=$work/results.tsv
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work" "${dl_dir:-}"
}
trap cleanup EXIT
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
# record KEY VALUE: one figure (a key recorded in several rounds is a sample).
record() { printf '%s\t%s\n' "$1" "$2" >>"$results"; }
# value KEY FILE: the value of a key=value line a bench program printed.
value() { sed -n "s/^$1=//p" "$2" | tail -1; }

# measure CMD...: runs CMD; sets WALL (s), RSS (KiB), CPU (s); its stdout is in $work/stdout.
measure() {
  local t0 t1
  t0=$(date +%s%N)
  if ! /usr/bin/time -f '%M %U %S' -o "$work/time" "$@" >"$work/stdout" 2>"$work/stderr"; then
    log "failed: $*"; tail -5 "$work/stderr" >&2; return 1
  fi
  t1=$(date +%s%N)
  WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
  read -r RSS u s < <(tail -1 "$work/time")
  CPU=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
}

# ---------------------------------------------------------------------------------------------
log "building (niced)"
$NICE cargo build --release --quiet -p vidu-cli
bench_exe() {
  $NICE cargo build --release --quiet -p vidu-benches --bench "$1" --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == sys.argv[1] and m.get("executable"):
        print(m["executable"])' "$1" | tail -1
}
client=$(bench_exe client)
data_uri=$(bench_exe data_uri)
cli=$root/target/release/vidu
[ -x "$client" ] && [ -x "$data_uri" ] || { log "bench programs not built"; exit 1; }

venv=$root/target/bench-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import requests' 2>/dev/null; then
  log "making $venv with requests"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet requests
fi

# start_emulator NAME [serve flags]: the emulator in its own process; sets URL. It stops when
# the script exits (its stdin, a pipe held by this shell, closes).
start_emulator() {
  local name=$1; shift
  mkfifo "$work/$name.in"
  "$client" serve --stats-file "$work/$name.stats" "$@" <"$work/$name.in" >"$work/$name.out" 2>&1 &
  pids+=($!)
  eval "exec {fd_$name}>\"$work/$name.in\""
  for _ in $(seq 100); do grep -q '^VIDU_BASE_URL=' "$work/$name.out" && break; sleep 0.05; done
  URL=$(value VIDU_BASE_URL "$work/$name.out")
  [ -n "$URL" ] || { log "emulator $name did not start"; cat "$work/$name.out" >&2; exit 1; }
}
# emu_stat NAME KEY: a counter of emulator NAME, as of now.
emu_stat() { sleep 0.2; value "$2" "$work/$1.stats"; }

# ---------------------------------------------------------------------------------------------
{
  record info.cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
  record info.cores "$(nproc)"
  record info.os "$(. /etc/os-release && echo "$PRETTY_NAME"), $(uname -sr)"
  record info.rustc "$(rustc -V)"
  record info.curl "$(curl --version | head -1 | cut -d' ' -f1-2)"
  record info.python "$("$venv/bin/python" -c 'import sys, requests; print("Python", sys.version.split()[0], "requests", requests.__version__)')"
  record info.load_start "$(cut -d' ' -f1-3 /proc/loadavg)"
  record info.rounds "$rounds"
  record info.date "$(date -u '+%Y-%m-%d %H:%M UTC')"
  record info.commit "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src examples benches Cargo.toml || echo ' (with local changes)')"
}

# --- 1. Large inline images -------------------------------------------------------------------
log "inline images"
start_emulator fast --polls-per-state 0
fast_url=$URL
cat >"$work/requests_submit.py" <<'PY'
import base64, sys, requests
url, image = sys.argv[1], sys.argv[2]
with open(image, "rb") as f:
    uri = "data:image/png;base64," + base64.b64encode(f.read()).decode()
body = {"model": "viduq2-pro", "input": {"first_frame_url": uri}, "parameters": {"vidu_type": "img2video"}}
r = requests.post(url + "/v1/tasks/submit", json=body, headers={"Authorization": "bench"})
r.raise_for_status()
PY
for mb in 10 40; do
  img=$work/img$mb.png
  # A valid PNG header padded to the size: the client checks the header, then streams it all.
  python3 - "$img" $((mb * 1000 * 1000)) "$work/body$mb.json" <<'PY'
import base64, json, struct, sys, zlib
path, size, body = sys.argv[1], int(sys.argv[2]), sys.argv[3]
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 256, 256, 8, 2, 0, 0, 0))
data = head + bytes(size - len(head))
open(path, "wb").write(data)
uri = "data:image/png;base64," + base64.b64encode(data).decode()
json.dump({"model": "viduq2-pro", "input": {"first_frame_url": uri}, "parameters": {"vidu_type": "img2video"}}, open(body, "w"))
PY
  peers=(cli naive requests curl)
  for r in $(seq "$rounds"); do
    order=("${peers[@]}")
    [ $((r % 2)) -eq 0 ] && order=(curl requests naive cli)
    for p in "${order[@]}"; do
      case $p in
        cli) measure "$cli" img2video --provider umodelverse --base-url "$fast_url" --api-key bench \
               --image "$img" --poll-interval 0.01 --output "$work/out.mp4" ;;
        naive) measure "$client" naive-submit --base-url "$fast_url" --image "$img" ;;
        requests) measure "$venv/bin/python" "$work/requests_submit.py" "$fast_url" "$img" ;;
        curl) measure curl -sS --fail -o /dev/null -H 'Authorization: bench' \
                -H 'Content-Type: application/json' --data-binary "@$work/body$mb.json" \
                "$fast_url/v1/tasks/submit" ;;
      esac
      record "inline$mb.$p.rss" "$RSS"
      record "inline$mb.$p.secs" "$WALL"
      rm -f "$work/out.mp4"
    done
  done
  record "inline$mb.body_bytes" "$(stat -c %s "$work/body$mb.json")"
done

# --- 2. Body encoding throughput --------------------------------------------------------------
log "body encoding"
for r in $(seq "$rounds"); do
  "$data_uri" --bench >"$work/divan.txt" 2>&1
  # divan's table: name | fastest | slowest | median | mean | ...; the line under a name has
  # the same columns in bytes per second.
  python3 - "$work/divan.txt" >>"$results" <<'PY'
import re, sys
scale = {"B/s": 1, "KB/s": 1e3, "MB/s": 1e6, "GB/s": 1e9, "TB/s": 1e12}
name = None
for line in open(sys.argv[1], encoding="utf-8"):
    cols = [c.strip() for c in line.strip().lstrip("│").split("│")]
    m = re.match(r"^[├╰]─ (\w+)", line)
    if m:
        name = m.group(1)
    elif name and len(cols) >= 3 and cols[2].endswith("/s"):
        value, unit = cols[2].split()
        print(f"encode.{name}.mb_per_sec\t{float(value) * scale[unit] / 1e6:.1f}")
        name = None
PY
done

# --- 3. Status polls --------------------------------------------------------------------------
log "status polls"
count=3000; [ "$quick" = 1 ] && count=500
for r in $(seq "$rounds"); do
  for mode in keepalive fresh; do
    flag=; [ $mode = fresh ] && flag=--fresh
    "$client" polls --base-url "$fast_url" --count "$count" $flag >"$work/polls.txt"
    record "polls.$mode.per_sec" "$(value polls_per_sec "$work/polls.txt")"
  done
done
start_emulator never50 --state-duration 1000000
"$client" wait50 --base-url "$URL" >"$work/wait50.txt"
record polls.wait50.polls "$(value polls "$work/wait50.txt")"
record polls.wait50.threads_before "$(value threads_before "$work/wait50.txt")"
record polls.wait50.threads_during "$(value threads_during_max "$work/wait50.txt")"
record polls.wait50.connections "$(emu_stat never50 api_connections)"
if command -v valgrind >/dev/null; then
  for n in 100 600; do
    valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
      "$client" polls --base-url "$fast_url" --count $n >/dev/null 2>"$work/cg.$n"
  done
  ir() { sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' "$work/cg.$1"; }
  record polls.instructions_per_poll "$(( ($(ir 600) - $(ir 100)) / 500 ))"
fi

# --- 4. CPU time of a wait (runs alongside the builds below: it is mostly asleep) -------------
log "a ${wait_secs} s wait, in the background"
start_emulator never --state-duration 1000000
"$client" wait-cpu --base-url "$URL" --secs "$wait_secs" >"$work/waitcpu.txt" &
wait_pid=$!

# --- 5. Footprint -----------------------------------------------------------------------------
log "footprint"
features=; grep -q '^capi *=' Cargo.toml && features="--features capi"
$NICE cargo rustc --quiet --release --lib --crate-type cdylib $features
strip -o "$work/libvidu.so" target/release/libvidu.so
record footprint.so_bytes "$(stat -c %s "$work/libvidu.so")"
if [ "$quick" = 0 ]; then
  $NICE cargo rustc --quiet --release --lib --crate-type cdylib --no-default-features $features
  strip -o "$work/libvidu-noemu.so" target/release/libvidu.so
  record footprint.so_noemu_bytes "$(stat -c %s "$work/libvidu-noemu.so")"
  # What a size-tuned release profile would give (not the shipped profile: panic stays unwind).
  if CARGO_TARGET_DIR=$work/small CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
     CARGO_PROFILE_RELEASE_OPT_LEVEL=s $NICE cargo rustc --quiet --release --lib --crate-type cdylib \
     --no-default-features $features; then
    strip -o "$work/libvidu-small.so" "$work/small/release/libvidu.so"
    record footprint.so_small_bytes "$(stat -c %s "$work/libvidu-small.so")"
  fi
  rm -rf "$work/small"
fi
# Restores the default build of the library for the C example below.
$NICE cargo build --quiet --release --lib
if $NICE make -s -C examples/c PROFILE=release >"$work/make.log" 2>&1; then
  record footprint.c_example_bytes "$(stat -c %s examples/c/img2video)"
  strip -o "$work/img2video-c" examples/c/img2video
  record footprint.c_example_stripped_bytes "$(stat -c %s "$work/img2video-c")"
else
  log "C example did not build"; tail -5 "$work/make.log" >&2
fi
record footprint.crates "$(cargo tree -e normal --prefix none 2>/dev/null | sed 's/ (\*)$//' | sort -u | wc -l)"
if [ "$clean_builds" = 1 ]; then
  t0=$(date +%s%N)
  CARGO_TARGET_DIR=$work/clean $NICE cargo build --quiet --release --lib
  record footprint.clean_release_secs "$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')"
  rm -rf "$work/clean"
  git clone --quiet "$root" "$work/clone"
  t0=$(date +%s%N)
  (cd "$work/clone" && CARGO_TARGET_DIR=$work/clone/target $NICE cargo build --quiet --example img2video)
  record footprint.quickstart_secs "$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')"
  rm -rf "$work/clone"
fi

wait "$wait_pid"
record wait.secs "$(value wait_secs "$work/waitcpu.txt")"
record wait.polls "$(value polls "$work/waitcpu.txt")"
record wait.cpu_ms "$(value cpu_ms "$work/waitcpu.txt")"

# --- 6. 1 GiB download ------------------------------------------------------------------------
log "download of $download_mb MiB"
size=$((download_mb * 1024 * 1024))
start_emulator big --polls-per-state 0 --video-size "$size"
# On tmpfs when it has room: the disk of a shared machine would be measured, not the client.
dl_dir=$(mktemp -d /dev/shm/vidu-bench.XXXXXX 2>/dev/null || mktemp -d "$work/dl.XXXXXX")
[ "$(df -k --output=avail "$dl_dir" | tail -1)" -gt $((size / 1024 * 3)) ] || dl_dir=$(mktemp -d "$work/dl.XXXXXX")
record download.bytes "$size"
record download.dir "$(df --output=fstype "$dl_dir" | tail -1)"
for r in $(seq "$rounds"); do
  order=(client curl); [ $((r % 2)) -eq 0 ] && order=(curl client)
  for p in "${order[@]}"; do
    if [ $p = client ]; then
      measure "$client" download --base-url "$URL" --out "$dl_dir/video.mp4"
      secs=$(value secs "$work/stdout")
    else
      video=$("$client" video-url --base-url "$URL" | sed -n 's/^video_url=//p')
      measure curl -sS --fail -o "$dl_dir/video.mp4" -w 'secs=%{time_total}\n' "$video"
      secs=$(value secs "$work/stdout")
    fi
    [ "$(stat -c %s "$dl_dir/video.mp4")" = "$size" ] || { log "$p: short download"; exit 1; }
    record "download.$p.mb_per_sec" "$(awk -v b="$size" -v s="$secs" 'BEGIN { printf "%.1f", b / s / 1e6 }')"
    record "download.$p.rss" "$RSS"
    rm -f "$dl_dir/video.mp4"
  done
done

# --- 7. 1,000 tasks from one thread (the batch runner) ----------------------------------------
# Client::run_batch_from from benches/src/bin/batch_scale.rs (a journal, as the batch CLI keeps
# one), so the figure does not depend on where the batch CLI lives.
log "batch"
if ! $NICE cargo build --release --quiet -p vidu-benches --bin batch_scale; then
  record batch.error "not measured: benches/src/bin/batch_scale.rs does not build"
else
  start_emulator batch --state-duration 5
  interval=1
  if measure target/release/batch_scale --base-url "$URL" --jobs 1000 \
       --out-dir "$work/batch-out" --journal "$work/batch-out/.vidu-journal.jsonl" \
       --poll-interval $interval; then
    requests=$(( $(emu_stat batch list_calls) + $(emu_stat batch status_polls) ))
    record batch.list_calls "$(emu_stat batch list_calls)"
    record batch.status_polls "$(emu_stat batch status_polls)"
    record batch.requests_per_interval "$(awk -v r="$requests" -v w="$WALL" -v i=$interval 'BEGIN { printf "%.2f", r / (w / i) }')"
    record batch.cpu_share "$(awk -v c="$CPU" -v w="$WALL" 'BEGIN { printf "%.4f", c / w }')"
    record batch.rss "$RSS"
    record batch.secs "$WALL"
  else
    record batch.error "the batch run failed: $(tail -1 "$work/stderr")"
  fi
  rm -rf "$work/batch-out"
fi
if grep -q 'fn reopen' src/journal.rs 2>/dev/null; then
  $NICE cargo test --quiet --release --lib journal::tests::reopen -- --ignored --nocapture \
    >"$work/journal.txt" 2>&1 || true
  ms=$(python3 - "$work/journal.txt" <<'PY'
import re, statistics, sys
text = open(sys.argv[1]).read()
m = re.search(r"reopen of 100,000 records.*?\[(.*?)\]", text)
scale = {"ns": 1e-6, "µs": 1e-3, "ms": 1.0, "s": 1e3}
if m:
    vals = [float(v) * scale[u] for v, u in re.findall(r"([\d.]+)(ns|µs|ms|s)\b", m.group(1))]
    print(f"{statistics.median(vals):.1f}")
PY
)
  [ -n "$ms" ] && record journal.reopen_ms "$ms"
fi

record info.load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
python3 benches/report.py "$results" benches/NOTES.md >"$out"
# --- 8. Many videos from one process (issue 14): its own script, its own section -------------
log "scale (benches/scale.sh)"
scale_flags=(); [ "$quick" = 1 ] && scale_flags=(--quick)
if ! benches/scale.sh "${scale_flags[@]}" >>"$out"; then
  printf '\n## Many videos from one process (issue 14)\n\nNot measured: benches/scale.sh failed.\n' >>"$out"
fi
log "wrote $out"
