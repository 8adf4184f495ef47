#!/usr/bin/env python3
"""Run a command with its standard error on a pseudo-terminal (as when a person runs it).

Usage: pty_stderr.py OUT ERR COMMAND...
Standard output goes to the file OUT; what the command wrote to the terminal goes to ERR.
Exits with the command's status.
"""
import os
import pty
import subprocess
import sys


def main():
    out_path, err_path, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
    master, slave = pty.openpty()
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=slave)
    os.close(slave)
    got = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every writer of the terminal has closed it
            break
        if not chunk:
            break
        got += chunk
    os.close(master)
    with open(err_path, "wb") as err:
        err.write(bytes(got))
    return proc.wait()


if __name__ == "__main__":
    sys.exit(main())
