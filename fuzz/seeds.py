#!/usr/bin/env python3
"""Writes fuzz/seeds/<target>/ from the protocol documents' JSON samples and a few
hand-picked inputs. Run from the repository root: python3 fuzz/seeds.py"""
import os, re, hashlib

DOC = "src/emulator/PROTOCOLS.md"  # identical to the shared PROTOCOLS.md
OUT = "fuzz/seeds"

def write(target, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    open(os.path.join(d, name), "wb").write(data)

text = open(DOC).read()
sections = re.split(r"^## ", text, flags=re.M)
for section in sections:
    provider = {"1.": 0, "2.": 1, "3.": 2}.get(section[:2])
    if provider is None:
        continue
    samples = re.findall(r"```json\n(.*?)```", section, flags=re.S)
    samples += [s for s in re.findall(r"`(\{.*?\})`", section, flags=re.S)]
    for sample in samples:
        body = sample.encode()
        for kind in range(5):
            write("provider_answer", bytes([provider, kind, 0x90, 0x01]) + body)

for v in ["0", "120", "18446744073709551615", "Sun, 06 Nov 1994 08:49:37 GMT",
          "Sun, 06 Nov 9999999999999999 08:49:37 GMT", "Wed, 21 Oct 2015 07:28:00 GMT", " 5 "]:
    write("retry_after", v.encode())

for png in ["examples/sample.png"]:
    write("image_header", open(png, "rb").read()[:4096])
write("image_header", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xc0\x00\x11\x08\x00\xc0\x01\x00\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01")
write("image_header", b"RIFF\x24\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\xff\x00\x00\xbf\x00\x00")
write("image_header", b"RIFF\x24\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\xff\xc0\x2f\x00")

for u in ["https://cdn.example.com/out.mp4", "http://127.0.0.1:8080/v.mp4", "http://[::1]/v",
          "http://localhost@evil.example/", "http://evil.example@127.0.0.1/", "HTTP://LOCALHOST:1/x",
          "ftp://x/", "/b/v.mp4?from=https://cdn.example"]:
    write("video_url", u.encode())

for base, loc in [("https://cdn.example.com/a/b/v.mp4?sig=1", "/b/v.mp4?from=https://cdn.example"),
                  ("https://cdn.example.com/a/b/c", "../x"), ("https://cdn.example.com/a", "//other.example/x"),
                  ("http://127.0.0.1:8080/v.mp4", "?q=1"), ("https://a/b", "https://c/d#frag"),
                  ("https://a/b/c/d;p?q", "../../../g"), ("https://a/b", "")]:
    write("redirect", (base + "\n" + loc).encode())

# Content-Range (first line) and Content-Length (second line) of a 206 answer.
for r, n in [("bytes 0-1023/4096", "1024"), ("bytes 5-9/*", "18446744073709551615"),
             ("bytes 18446744073709551615-0/*", "1"), ("bytes */4096", ""),
             ("bytes 100-199/99", "100")]:
    write("content_range", (r + "\n" + n).encode())

for r in [b"GET /v1/tasks/abc?x=1 HTTP/1.1\r\nHost: a\r\n\r\n",
          b"POST /ent/v2/img2video HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
          b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
          b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\n",
          b"POST /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"]:
    write("emulator_request", r)

for c in [b"vidu\x00sk-key\x00https://api.vidu.com\x00agent\x00viduq1\x00a cat\x00720p\x00{}\x00" + open("examples/sample.png", "rb").read()[:512],
          b"umodelverse\x00k\x00http://127.0.0.1:1\x00\x00\x00\x00\x00\x00",
          b"large\x00\xd0\xba\x00"]:
    write("c_entry_points", c)
