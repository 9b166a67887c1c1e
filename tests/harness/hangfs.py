"""A FUSE filesystem whose statfs never answers: what a stale NFS mount looks like to df.
(python3-fusepy.) Usage: hangfs.py MOUNTPOINT; runs in the foreground until killed."""
import sys
import threading

from fusepy import FUSE, Operations


class Hang(Operations):
    def getattr(self, path, fh=None):
        if path == "/":
            return {"st_mode": 0o40755, "st_nlink": 2}
        raise OSError(2, "no such file")

    def statfs(self, path):
        threading.Event().wait()


FUSE(Hang(), sys.argv[1], foreground=True, nothreads=False, allow_other=False)
