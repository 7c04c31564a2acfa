#!/usr/bin/env python3
"""unitrun.py: starts a service from its installed unit files the way systemd would, where
systemd is not running: the .socket unit's socket (path, owner, group, mode, directory mode,
backlog) is made and kept open here, the service's ExecStart runs as its User and Group
with its UMask, and the socket is passed as fd 3 with LISTEN_FDS=1 and LISTEN_PID.

    unitrun.py SERVICE_UNIT [SOCKET_UNIT] PIDFILE

It stays in the foreground as the "service manager":
    SIGHUP   the unit's ExecReload (kill -HUP $MAINPID)
    SIGUSR1  restart: stop the service (SIGTERM, as KillSignal), start it again, socket kept
    SIGTERM  stop the service and exit (the socket goes with us)
PIDFILE holds the service's main pid, rewritten at each start."""
import configparser
import grp
import os
import pwd
import shlex
import signal
import socket
import sys
import time


def read_unit(path):
    cp = configparser.RawConfigParser(strict=False, delimiters=("=",),
                                      comment_prefixes=("#", ";"), inline_comment_prefixes=None)
    cp.optionxform = str    # keys are case-sensitive
    with open(path) as f:
        cp.read_file(f)
    return cp


def make_socket(unit):
    s = unit["Socket"]
    path = s["ListenStream"]
    d = os.path.dirname(path)
    os.makedirs(d, mode=int(s.get("DirectoryMode", "0755"), 8), exist_ok=True)
    os.chmod(d, int(s.get("DirectoryMode", "0755"), 8))
    if os.path.exists(path):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    sock.bind(path)
    os.umask(old)
    uid = pwd.getpwnam(s.get("SocketUser", "root")).pw_uid
    gid = grp.getgrnam(s.get("SocketGroup", "root")).gr_gid
    os.chown(path, uid, gid)
    os.chmod(path, int(s.get("SocketMode", "0666"), 8))
    sock.listen(int(s.get("Backlog", "128")))
    return sock, path


def start(service, sock):
    svc = service["Service"]
    argv = shlex.split(svc["ExecStart"])
    user = pwd.getpwnam(svc.get("User", "root"))
    group = grp.getgrnam(svc.get("Group", user.pw_name))
    pid = os.fork()
    if pid == 0:
        try:
            env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
            if sock is not None:
                os.dup2(sock.fileno(), 3)
                os.set_inheritable(3, True)
                env.update({"LISTEN_FDS": "1", "LISTEN_PID": str(os.getpid()),
                            "LISTEN_FDNAMES": "portald.socket"})
            for k, v in (x.split("=", 1) for x in shlex.split(svc.get("Environment", ""))):
                env[k] = v
            os.setgroups([])
            os.setgid(group.gr_gid)
            os.setuid(user.pw_uid)
            os.umask(int(svc.get("UMask", "0022"), 8))
            os.chdir("/")
            os.execve(argv[0], argv, env)
        except BaseException as e:  # never return into the parent's code
            sys.stderr.write("unitrun: exec %s: %s\n" % (argv[0], e))
        os._exit(127)
    return pid


def stop(pid, timeout=45):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.time() + timeout
    while time.time() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]


def main():
    args = sys.argv[1:]
    if len(args) not in (2, 3):
        sys.stderr.write(__doc__)
        return 2
    service = read_unit(args[0])
    sock = path = None
    if len(args) == 3:
        sock, path = make_socket(read_unit(args[1]))
    pidfile = args[-1]
    events = []
    for sig in (signal.SIGHUP, signal.SIGUSR1, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda s, f: events.append(s))
    pid = start(service, sock)
    with open(pidfile, "w") as f:
        f.write("%d\n" % pid)
    rc = 0
    while True:
        if not events:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                sys.stderr.write("unitrun: the service exited (status %d)\n" % status)
                rc = 1
                break
            time.sleep(0.05)
            continue
        sig = events.pop(0)
        if sig == signal.SIGHUP:
            os.kill(pid, signal.SIGHUP)
        elif sig == signal.SIGUSR1:
            stop(pid)
            pid = start(service, sock)
            with open(pidfile, "w") as f:
                f.write("%d\n" % pid)
        else:
            status = stop(pid)
            rc = 0 if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else 1
            break
    if path is not None and os.path.exists(path):
        os.unlink(path)
    return rc


if __name__ == "__main__":
    sys.exit(main())
