#!/usr/bin/python3
"""smtpd.py: a loopback SMTP server for the local stack and the tests; keeps each message as
one file in a directory and can be told to refuse, fail or hang.

Usage:
  tools/smtpd.py --host 127.0.0.1 --port N --maildir DIR
                 [--starttls CERT KEY] [--require-starttls] [--smtps CERT KEY]
                 [--auth USER:PASS]
                 [--fail-next N | --fail-rate R] [--fail-code 451|550] [--fail-stage mail|rcpt|data]
                 [--hang] [--seed S]

--port 0 picks a free port. When it listens it prints one line, SMTPD_PORT=<port>, and
flushes stdout; SIGTERM or SIGINT stop it.

Each accepted message is written atomically (a temporary name, then rename) as
DIR/<UTC time>-<n>.eml: the message exactly as received, after three header lines the
server adds on top, the way a mailbox keeps the envelope:
  Return-Path: <envelope sender>
  Delivered-To: <recipient>          (one line per envelope recipient)
  X-Smtpd-Session: helo=<name>; tls=<TLS version or none>; auth=<user or none>

Run-time control: the file DIR/control (no .eml suffix) is read at every transaction; its
first line is one of
  accept                  behave normally (also when the file is missing or empty)
  fail CODE [STAGE]       refuse every transaction with CODE (4xx: try later, 5xx: never)
                          at STAGE: mail, rcpt (default) or data
  hang                    stop answering after the greeting, until the file says otherwise
so a test can simulate a relay that is down, refusing or slow, e.g.
  echo 'fail 451' > DIR/control;  echo hang > DIR/control;  rm DIR/control
--fail-next N / --fail-rate R / --hang do the same from the command line (first N
transactions, or each one with probability R). Needs python3-aiosmtpd (Debian); the
rest is the standard library. Binds only where told; meant for 127.0.0.1."""
import argparse
import asyncio
import logging
import os
import random
import signal
import ssl
import sys
import time
import warnings

from aiosmtpd.smtp import SMTP, AuthResult

# aiosmtpd warns about AUTH without TLS (meant here: a loopback test server) and about
# its own deprecations on every connection; only errors are worth a line.
logging.getLogger("mail.log").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", module="aiosmtpd")

HANG_POLL = 0.2


def text_for(code):
    if 400 <= code < 500:
        return "%d 4.3.0 Temporarily refused by the test server, try again later" % code
    return "%d 5.7.1 Refused by the test server" % code


class Control:
    """What the server should do now: the control file wins over the command line."""

    def __init__(self, args):
        self.path = os.path.join(args.maildir, "control")
        self.fail_next = args.fail_next
        self.fail_rate = args.fail_rate
        self.fail_code = args.fail_code
        self.fail_stage = args.fail_stage
        self.hang = args.hang
        self.rng = random.Random(args.seed)

    def read(self):
        """Returns ("accept",), ("fail", code, stage) or ("hang",) from the control file,
        or None when the file says nothing."""
        try:
            with open(self.path) as f:
                words = f.readline().split()
        except FileNotFoundError:
            return None
        if not words:
            return None
        if words[0] == "accept":
            return ("accept",)
        if words[0] == "hang":
            return ("hang",)
        if words[0] == "fail" and len(words) >= 2 and words[1].isdigit():
            code = int(words[1])
            stage = words[2] if len(words) > 2 else "rcpt"
            if 400 <= code < 600 and stage in ("mail", "rcpt", "data"):
                return ("fail", code, stage)
        print("smtpd: ignoring control line %r" % " ".join(words), file=sys.stderr, flush=True)
        return None

    def hanging(self):
        c = self.read()
        if c is not None:
            return c[0] == "hang"
        return self.hang

    def decide(self):
        """Decides one transaction: None to accept, or (code, stage) to refuse."""
        c = self.read()
        if c is not None:
            return (c[1], c[2]) if c[0] == "fail" else None
        if self.fail_next > 0:
            self.fail_next -= 1
            return (self.fail_code, self.fail_stage)
        if self.fail_rate > 0 and self.rng.random() < self.fail_rate:
            return (self.fail_code, self.fail_stage)
        return None


class Mailbox:
    def __init__(self, args, control):
        self.dir = args.maildir
        self.control = control
        self.count = 0

    async def wait_while_hanging(self):
        # Cancelled when the client gives up and closes the connection.
        while self.control.hanging():
            await asyncio.sleep(HANG_POLL)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        await self.wait_while_hanging()
        session.host_name = hostname
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        await self.wait_while_hanging()
        session.host_name = hostname
        return "250 %s" % server.hostname

    async def handle_MAIL(self, server, session, envelope, address, options):
        await self.wait_while_hanging()
        session.refusal = self.control.decide()
        if session.refusal and session.refusal[1] == "mail":
            return text_for(session.refusal[0])
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        refusal = getattr(session, "refusal", None)
        if refusal and refusal[1] == "rcpt":
            return text_for(refusal[0])
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        refusal = getattr(session, "refusal", None)
        if refusal and refusal[1] == "data":
            return text_for(refusal[0])
        self.count += 1
        now = time.time()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + "%06dZ" % int((now % 1) * 1e6)
        name = "%s-%06d.eml" % (stamp, self.count)
        tls = "none"
        if session.ssl is not None:
            obj = session.ssl.get("ssl_object") if isinstance(session.ssl, dict) else None
            tls = obj.version() if obj is not None else "yes"
        auth = session.auth_data if session.authenticated else None
        head = ["Return-Path: <%s>" % envelope.mail_from]
        head += ["Delivered-To: %s" % r for r in envelope.rcpt_tos]
        head.append("X-Smtpd-Session: helo=%s; tls=%s; auth=%s" %
                    (session.host_name, tls, auth or "none"))
        data = ("\r\n".join(head) + "\r\n").encode() + envelope.original_content
        tmp = os.path.join(self.dir, ".%s.part" % name)  # readers list *.eml only
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, os.path.join(self.dir, name))
        print("smtpd: stored %s from <%s> to %s" % (name, envelope.mail_from,
                                                   ", ".join(envelope.rcpt_tos)), flush=True)
        return "250 2.0.0 OK: queued as %s" % name


class Authenticator:
    def __init__(self, user, password):
        self.user = user
        self.password = password

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (getattr(auth_data, "login", None) == self.user.encode() and
              getattr(auth_data, "password", None) == self.password.encode())
        return AuthResult(success=ok, auth_data=self.user if ok else None, handled=False)


class ImplicitTLSSMTP(SMTP):
    """SMTP over a connection that is TLS from its first byte (smtps://)."""

    def connection_made(self, transport):
        super().connection_made(transport)
        self.session.ssl = {"ssl_object": transport.get_extra_info("ssl_object")}


def tls_context(cert, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


async def serve(args):
    control = Control(args)
    box = Mailbox(args, control)
    kw = {"hostname": "smtpd.test", "ident": "portald-test-smtpd", "decode_data": False}
    if args.auth:
        user, _, password = args.auth.partition(":")
        kw["authenticator"] = Authenticator(user, password)
        kw["auth_required"] = True
    # aiosmtpd offers AUTH only after STARTTLS by default; on a plain or implicit-TLS
    # listener that would make --auth impossible to use.
    kw["auth_require_tls"] = bool(args.starttls) and not args.smtps
    ssl_ctx = None
    cls = SMTP
    if args.starttls:
        kw["tls_context"] = tls_context(*args.starttls)
        kw["require_starttls"] = args.require_starttls
    if args.smtps:
        ssl_ctx = tls_context(*args.smtps)
        cls = ImplicitTLSSMTP
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: cls(box, loop=loop, **kw), host=args.host,
                                      port=args.port, ssl=ssl_ctx)
    port = server.sockets[0].getsockname()[1]
    print("SMTPD_PORT=%d" % port, flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


def main():
    ap = argparse.ArgumentParser(description="Loopback SMTP server that keeps messages as files.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--maildir", required=True)
    ap.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--require-starttls", action="store_true")
    ap.add_argument("--smtps", nargs=2, metavar=("CERT", "KEY"), help="implicit TLS")
    ap.add_argument("--auth", metavar="USER:PASS")
    ap.add_argument("--fail-next", type=int, default=0, metavar="N")
    ap.add_argument("--fail-rate", type=float, default=0.0, metavar="R")
    ap.add_argument("--fail-code", type=int, default=451, choices=range(400, 600), metavar="CODE")
    ap.add_argument("--fail-stage", default="rcpt", choices=("mail", "rcpt", "data"))
    ap.add_argument("--hang", action="store_true")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    if args.require_starttls and not args.starttls:
        ap.error("--require-starttls needs --starttls")
    if args.starttls and args.smtps:
        ap.error("--starttls and --smtps exclude each other")
    os.makedirs(args.maildir, exist_ok=True)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
