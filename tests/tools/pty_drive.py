#!/usr/bin/env python3
"""Drive a program through a pseudo-terminal: pty_drive.py SCRIPT -- CMD...

SCRIPT lines: "send TEXT" (C escapes: \\t, \\n, \\x04), "expect REGEX" (wait up to
10 s for it in the output so far, from the last match on). Exit status 0 when
every expect matched and the program exited 0; the whole output goes to stdout.
"""
import fcntl, os, pty, re, select, signal, struct, sys, termios, time

def main():
    sep = sys.argv.index("--")
    script = open(sys.argv[1]).read().splitlines()
    cmd = sys.argv[sep + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        # Wide enough that a long prompt (a deep build path) never wraps mid-pattern.
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 1000, 0, 0))
        os.execvp(cmd[0], cmd)
    out = b""
    pos = 0
    ok = True

    def read_some(timeout):
        nonlocal out
        r, _, _ = select.select([fd], [], [], timeout)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                return False
            if not data:
                return False
            out += data
        return True

    for line in script:
        if line.startswith("send "):
            text = line[5:].encode().decode("unicode_escape").encode("latin-1")
            time.sleep(0.05)
            os.write(fd, text)
        elif line.startswith("expect "):
            rx = re.compile(line[7:].encode())
            deadline = time.time() + 30
            while True:
                m = rx.search(out, pos)
                if m:
                    pos = m.end()
                    break
                if time.time() > deadline or not read_some(0.2):
                    m = rx.search(out, pos)
                    if m:
                        pos = m.end()
                        break
                    sys.stdout.write("# expect timed out: %s\n" % line[7:])
                    ok = False
                    break
            if not ok:
                break
    deadline = time.time() + 10
    while time.time() < deadline and read_some(0.2):
        pass
    status = None
    for _ in range(50):
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
            break
        time.sleep(0.1)
    if status is None:
        os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
        sys.stdout.write("# the program did not exit; killed\n")
        ok = False
    sys.stdout.write(out.decode("utf-8", "replace"))
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128
    if code != 0:
        sys.stdout.write("\n# exit status %d\n" % code)
    sys.exit(0 if ok and code == 0 else 1)

main()
