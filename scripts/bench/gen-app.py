#!/usr/bin/env python3
"""A release tarball for the deploy benchmark: scripts plus text and binary assets, about
2 MB compressed.   gen-app.py OUT.tar.gz"""
import io
import random
import sys
import tarfile

random.seed(7)
words = ("plant order catalog water light soil pot fern cactus orchid ship pay cart user "
         "session price stock care leaf root bloom seed").split()

SCRIPTS = {
    "bin/start": '#!/bin/sh\nhere=$(cd "$(dirname "$0")/.." && pwd)\n'
                 'echo "release=$(cat "$here/VERSION") $(cat "$here/../../shared/app.conf" | tr "\\n" " ")" '
                 '>"$here/../../shared/app.out"\n',
    "bin/stop": '#!/bin/sh\nhere=$(cd "$(dirname "$0")/.." && pwd)\nrm -f "$here/../../shared/app.out"\n',
    "bin/migrate": '#!/bin/sh\nhere=$(cd "$(dirname "$0")/.." && pwd)\necho "$1 $2" >>"$here/../../shared/schema"\n',
}


def add(tar, name, data, mode=0o644):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 1_700_000_000
    tar.addfile(info, io.BytesIO(data))


with tarfile.open(sys.argv[1], "w:gz", compresslevel=6) as tar:
    for name, text in SCRIPTS.items():
        add(tar, name, text.encode(), 0o755)
    add(tar, "VERSION", b"bench\n")
    for i in range(160):
        lines = (" ".join(random.choice(words) for _ in range(12)) for _ in range(400))
        add(tar, "lib/module%03d.py" % i, "\n".join(lines).encode())
    for i in range(8):
        add(tar, "static/img%02d.bin" % i, random.randbytes(150_000))
