#!/usr/bin/env bash
# Peak resident memory of the example CLI submitting large inline images, against the emulator
# running in a separate process (so its own buffers are not counted). Prints a table.
#   usage: benches/memory.sh [SIZES_MB...]   (default: 1 10 40)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-1 10 40}")
[ $# -eq 0 ] && sizes=(1 10 40)

cargo build --release --quiet --example img2video --example emulator
work=$(mktemp -d)
trap 'kill $emu_pid 2>/dev/null || true; rm -rf "$work"' EXIT

target/release/examples/emulator >"$work/emu.out" 2>/dev/null &
emu_pid=$!
for _ in $(seq 50); do grep -q VIDU_BASE_URL "$work/emu.out" && break; sleep 0.1; done
base_url=$(sed -n 's/^VIDU_BASE_URL=//p' "$work/emu.out")

# A valid PNG header (256x256) padded with zeros to the wanted size: the client reads only the
# header to validate, then streams the whole file as base64.
make_png() {
  python3 - "$1" "$2" <<'PY'
import struct, sys, zlib
path, size = sys.argv[1], int(sys.argv[2])
ihdr = struct.pack(">IIBBBBB", 256, 256, 8, 2, 0, 0, 0)
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
with open(path, "wb") as f:
    f.write(head)
    f.truncate(size)
PY
}

printf '%-10s %-14s %-16s %-10s\n' "image" "request body" "peak RSS (KiB)" "seconds"
for mb in "${sizes[@]}"; do
  img="$work/img-$mb.png"
  make_png "$img" $((mb * 1024 * 1024))
  body=$(( (mb * 1024 * 1024 + 2) / 3 * 4 ))
  start=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$work/rss" target/release/examples/img2video --provider umodelverse \
    --base-url "$base_url" --api-key bench --image "$img" --poll-interval 0.05 \
    --output "$work/out.mp4" >/dev/null 2>"$work/err" || { cat "$work/err"; exit 1; }
  end=$(date +%s.%N)
  secs=$(python3 -c "print(f'{$end - $start:.2f}')")
  printf '%-10s %-14s %-16s %-10s\n' "${mb} MiB" "$((body / 1024 / 1024)) MiB" "$(cat "$work/rss")" "$secs"
done
