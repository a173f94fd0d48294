#!/usr/bin/env bash
# TLS costs beside curl, over the same TLS loopback server, and the size of libvidu.so with
# each trust option. Prints a Markdown section; with --write it also replaces the section
# between the "tls.sh" markers of BENCHMARKS.md. By hand, not CI.
#
#   benches/tls.sh [--rounds N] [--download-mb MB] [--base REV] [--write]
#
# --base REV: also the stripped libvidu.so of commit REV (its tree built in a temporary
#             directory), to show what the TLS options add to it.
# The server side runs in its own process (`vidu-tls-bench serve`): the emulator, and the test
# suite's TLS front (tests/common/tls.rs: rustls, a CA made at start) before its API origin and
# before its video origin. Both clients go through the same front: ours (Client::submit,
# Client::download, with the CA as `Config::ca_file`) and curl (`--cacert`). Plain http to the
# emulator is measured in the same rounds, for what TLS itself adds.
# Needs: cargo, python3, curl, /usr/bin/time, strip.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

rounds=3 download_mb=1024 write=0 base=
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift ;;
    --download-mb) download_mb=$2; shift ;;
    --base) base=$2; shift ;;
    --write) write=1 ;;
    *) echo "unknown argument $1 (see the head of $0)" >&2; exit 2 ;;
  esac
  shift
done

NICE="nice -n 10"
work=$(mktemp -d /tmp/vidu-tls-bench.XXXXXX)
results=$work/results.tsv
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work" "${dl_dir:-}"
}
trap cleanup EXIT
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
record() { printf '%s\t%s\n' "$1" "$2" >>"$results"; }
value() { sed -n "s/^$1=//p" "$2" | tail -1; }

# measure CMD...: runs CMD; sets WALL (s) and RSS (KiB); its stdout is in $work/stdout.
measure() {
  local t0 t1
  t0=$(date +%s%N)
  if ! /usr/bin/time -f '%M' -o "$work/time" "$@" >"$work/stdout" 2>"$work/stderr"; then
    log "failed: $*"; tail -5 "$work/stderr" >&2; return 1
  fi
  t1=$(date +%s%N)
  WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
  RSS=$(tail -1 "$work/time")
}

log "building (niced)"
$NICE cargo build --release --quiet -p vidu-tls-bench
tool=$root/target/release/vidu-tls-bench

size=$((download_mb * 1024 * 1024))
mkfifo "$work/serve.in"
"$tool" serve --video-size "$size" --ca-out "$work/ca.pem" <"$work/serve.in" >"$work/serve.out" 2>&1 &
pids+=($!)
exec {serve_fd}>"$work/serve.in"
for _ in $(seq 100); do grep -q '^VIDEO_TLS=' "$work/serve.out" && break; sleep 0.05; done
plain=$(value PLAIN_URL "$work/serve.out") tls=$(value TLS_URL "$work/serve.out")
video_plain=$(value VIDEO_PLAIN "$work/serve.out") video_tls=$(value VIDEO_TLS "$work/serve.out")
[ -n "$video_tls" ] || { log "the server did not start"; cat "$work/serve.out" >&2; exit 1; }

record info.date "$(date -u '+%Y-%m-%d %H:%M UTC')"
record info.commit "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src benches Cargo.toml || echo ' (with local changes)')"
record info.load "$(cut -d' ' -f1-3 /proc/loadavg)"
record info.curl "$(curl --version | head -1 | cut -d' ' -f1-2,5)"
record info.rounds "$rounds"

# --- 40 MB inline submit ----------------------------------------------------------------------
log "40 MB inline submit"
img=$work/img40.png
python3 - "$img" 40000000 "$work/body40.json" <<'PY'
import base64, json, struct, sys, zlib
path, size, body = sys.argv[1], int(sys.argv[2]), sys.argv[3]
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 256, 256, 8, 2, 0, 0, 0))
data = head + bytes(size - len(head))
open(path, "wb").write(data)
uri = "data:image/png;base64," + base64.b64encode(data).decode()
json.dump({"model": "viduq2-pro", "input": {"first_frame_url": uri}, "parameters": {"vidu_type": "img2video"}}, open(body, "w"))
PY
for r in $(seq "$rounds"); do
  order=(ours curl); [ $((r % 2)) -eq 0 ] && order=(curl ours)
  for scheme in tls plain; do
    url=$plain ca=(); curl_ca=()
    [ $scheme = tls ] && url=$tls ca=(--ca-file "$work/ca.pem") curl_ca=(--cacert "$work/ca.pem")
    for p in "${order[@]}"; do
      if [ $p = ours ]; then
        measure "$tool" submit --base-url "$url" "${ca[@]}" --image "$img"
      else
        measure curl -sS --fail -o /dev/null "${curl_ca[@]}" -H 'Authorization: bench' \
          -H 'Content-Type: application/json' --data-binary "@$work/body40.json" \
          "$url/v1/tasks/submit"
      fi
      record "submit.$scheme.$p.secs" "$WALL"
      record "submit.$scheme.$p.rss" "$RSS"
    done
  done
done

# --- download ---------------------------------------------------------------------------------
log "download of $download_mb MiB"
dl_dir=$(mktemp -d /dev/shm/vidu-tls-bench.XXXXXX 2>/dev/null || mktemp -d "$work/dl.XXXXXX")
[ "$(df -k --output=avail "$dl_dir" | tail -1)" -gt $((size / 1024 * 3)) ] || dl_dir=$(mktemp -d "$work/dl.XXXXXX")
record download.dir "$(df --output=fstype "$dl_dir" | tail -1)"
record download.bytes "$size"
for r in $(seq "$rounds"); do
  order=(ours curl); [ $((r % 2)) -eq 0 ] && order=(curl ours)
  for scheme in tls plain; do
    url=$plain ca=() curl_ca=() to=$video_plain
    [ $scheme = tls ] && url=$tls ca=(--ca-file "$work/ca.pem") curl_ca=(--cacert "$work/ca.pem") to=$video_tls
    for p in "${order[@]}"; do
      if [ $p = ours ]; then
        measure "$tool" download --base-url "$url" "${ca[@]}" --video-from "$video_plain" \
          --video-to "$to" --out "$dl_dir/video.mp4"
      else
        video=$("$tool" video-url --base-url "$url" "${ca[@]}" --video-from "$video_plain" \
          --video-to "$to" | sed -n 's/^video_url=//p')
        measure curl -sS --fail "${curl_ca[@]}" -o "$dl_dir/video.mp4" -w 'secs=%{time_total}\n' "$video"
      fi
      secs=$(value secs "$work/stdout")
      [ "$(stat -c %s "$dl_dir/video.mp4")" = "$size" ] || { log "$p: short download"; exit 1; }
      record "download.$scheme.$p.mb_per_sec" "$(awk -v b="$size" -v s="$secs" 'BEGIN { printf "%.1f", b / s / 1e6 }')"
      record "download.$scheme.$p.rss" "$RSS"
      rm -f "$dl_dir/video.mp4"
    done
  done
done
exec {serve_fd}>&-

# --- libvidu.so with each trust option ---------------------------------------------------------
log "libvidu.so sizes"
for option in bundled platform-verifier; do
  features=capi; [ $option = platform-verifier ] && features=capi,platform-verifier
  $NICE cargo rustc --quiet --release --lib --crate-type cdylib --features "$features"
  strip -o "$work/libvidu.so" target/release/libvidu.so
  record "so.$option.bytes" "$(stat -c %s "$work/libvidu.so")"
  record "so.$option.crates" "$(cargo tree -e normal --prefix none --features "$features" 2>/dev/null | sed 's/ (\*)$//' | sort -u | wc -l)"
done
if [ -n "$base" ]; then
  mkdir "$work/base"
  git archive "$base" | tar -x -C "$work/base"
  (cd "$work/base" && CARGO_TARGET_DIR=$root/target $NICE cargo rustc --quiet --release --lib \
    --crate-type cdylib --features capi)
  strip -o "$work/libvidu.so" target/release/libvidu.so
  record so.base "$(git rev-parse --short "$base")"
  record so.base.bytes "$(stat -c %s "$work/libvidu.so")"
fi
"$tool" roots-bytes >"$work/roots.txt"
record so.roots "$(value roots "$work/roots.txt")"
record so.roots_der_bytes "$(value der_bytes "$work/roots.txt")"
# Restores the default build of the library.
$NICE cargo build --quiet --release --lib

python3 - "$results" >"$work/section.md" <<'PY'
import statistics, sys
from collections import defaultdict
v = defaultdict(list)
for line in open(sys.argv[1]):
    k, x = line.rstrip("\n").split("\t", 1)
    v[k].append(x)
one = lambda k: v[k][-1]
med = lambda k: statistics.median(float(x) for x in v[k])
def fig(k, fmt):
    xs = [float(x) for x in v[k]]
    return f"{fmt(med(k))} ({fmt(min(xs))}–{fmt(max(xs))})"
s = lambda x: f"{x:.3f} s"
mb = lambda kib: f"{kib / 1024:.1f} MB"
rate = lambda x: f"{x:,.0f} MB/s"
size = lambda b: f"{b / 1e6:.2f} MB"
def verdict(ok):
    return "pass" if ok else "**miss**"
sub = med("submit.tls.ours.secs") / med("submit.tls.curl.secs")
dl = med("download.tls.ours.mb_per_sec") / med("download.tls.curl.mb_per_sec")
dl_rss = med("download.tls.ours.rss") / 1024
print("<!-- tls.sh begin: written by benches/tls.sh --write; do not edit by hand -->")
print("## TLS costs (`benches/tls.sh`)")
print()
print(f"Run {one('info.date')}, commit {one('info.commit')}, {one('info.rounds')} round(s), "
      f"load {one('info.load')} at the start; {one('info.curl')}. Medians (min–max). The "
      "server side is one process: the emulator, and the test suite's rustls TLS front "
      "(`tests/common/tls.rs`, a CA made at start) before its API origin and its video "
      "origin. Ours and curl go through the same front, alternating within each round; "
      "plain http to the emulator in the same rounds shows what TLS itself adds. Ours is "
      "`benches/tls/main.rs`: `Client::submit` of the 40 MB PNG inline (process start to "
      "exit), and `Client::download` (throughput of the download call alone), with the CA as "
      "`Config::ca_file`; curl posts the JSON body built beforehand (`--data-binary`) and "
      f"downloads with `-o` (its `time_total`), with `--cacert`. Downloads go to "
      f"{one('download.dir')}.")
print()
print("| what | ours | curl, same run | ratio | target | result |")
print("|---|---|---|---|---|---|")
print(f"| 40 MB image inline over TLS: submit time | {fig('submit.tls.ours.secs', s)} | "
      f"{fig('submit.tls.curl.secs', s)} | {sub:.2f}x curl's | ≤ 1.5x curl's | {verdict(sub <= 1.5)} |")
print(f"| the same over plain http | {fig('submit.plain.ours.secs', s)} | "
      f"{fig('submit.plain.curl.secs', s)} | "
      f"{med('submit.plain.ours.secs') / med('submit.plain.curl.secs'):.2f}x curl's | — | — |")
print(f"| 40 MB inline over TLS: peak RSS | {fig('submit.tls.ours.rss', mb)} | "
      f"{fig('submit.tls.curl.rss', mb)} | — | — | — |")
n = int(one("download.bytes")) >> 20
print(f"| {n:,} MiB download over TLS: throughput | {fig('download.tls.ours.mb_per_sec', rate)} | "
      f"{fig('download.tls.curl.mb_per_sec', rate)} | {dl:.2f}x curl's | ≥ 0.8x curl's | {verdict(dl >= 0.8)} |")
print(f"| the same over plain http | {fig('download.plain.ours.mb_per_sec', rate)} | "
      f"{fig('download.plain.curl.mb_per_sec', rate)} | "
      f"{med('download.plain.ours.mb_per_sec') / med('download.plain.curl.mb_per_sec'):.2f}x curl's | — | — |")
print(f"| {n:,} MiB download over TLS: peak RSS (submit, wait, download) | {fig('download.tls.ours.rss', mb)} | "
      f"{fig('download.tls.curl.rss', mb)} | — | ≤ 16 MB | {verdict(dl_rss <= 16)} |")
if "so.base.bytes" in v:
    print(f"| stripped `libvidu.so` (`capi`) at {one('so.base')}, before the trust options | "
          f"{size(int(one('so.base.bytes')))} | — | — | — | — |")
print(f"| stripped `libvidu.so` (`capi`, bundled roots; a CA can be added) | "
      f"{size(int(one('so.bundled.bytes')))}, {one('so.bundled.crates')} crates | — | — | — | — |")
pv = int(one("so.platform-verifier.bytes")) - int(one("so.bundled.bytes"))
print(f"| stripped `libvidu.so` with `platform-verifier` (the system store) | "
      f"{size(int(one('so.platform-verifier.bytes')))} (+{pv / 1e3:,.0f} kB), "
      f"{one('so.platform-verifier.crates')} crates | — | — | — | — |")
print(f"| the bundled roots, as certificates (`webpki-root-certs`, which can take a CA beside them; ureq's `webpki-roots` is left out) | "
      f"{int(one('so.roots_der_bytes')) / 1e3:,.0f} kB of DER, {one('so.roots')} roots | — | — | — | — |")
print("<!-- tls.sh end -->")
PY
cat "$work/section.md"
if [ "$write" = 1 ]; then
  python3 - BENCHMARKS.md "$work/section.md" <<'PY'
import re, sys
doc, section = open(sys.argv[1]).read(), open(sys.argv[2]).read()
block = re.compile(r"<!-- tls.sh begin.*?<!-- tls.sh end -->\n", re.S)
doc = block.sub(lambda _: section, doc) if block.search(doc) else doc.rstrip("\n") + "\n\n" + section
open(sys.argv[1], "w").write(doc)
PY
  log "wrote the TLS section of BENCHMARKS.md"
fi
