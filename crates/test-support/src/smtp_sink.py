"""SMTP sink for the integration tests (driven by concierge-test-support's smtp.rs).

Run with Debian's python3 (it has aiosmtpd):

    /usr/bin/python3 -u smtp_sink.py --port PORT --dir DIR
        [--fail-first N] [--lmtp-port P --lmtp-user USER]
        [--tls-cert PEM --tls-key PEM]   (then STARTTLS is required)
        [--implicit-tls]                 (with the above: TLS from the first byte)
        [--stall-after-data]             (never answer the end of DATA)

For every accepted message it writes, in DIR:
    NNNNNN.eml   the message bytes as received (CRLF kept, dot-unstuffed)
    NNNNNN.json  {"mail_from", "rcpt_to", "mail_options", "rcpt_options",
                  "auth_login", "lmtp_error"}
The .json file is written last (atomically), so its presence means the
message, and its LMTP delivery when forwarding, are complete.

The first N DATA transactions (--fail-first) are answered with 451 and
recorded as rejected-NNNNNN.json instead.

AUTH PLAIN/LOGIN is offered without TLS and any credentials are accepted
(the login is recorded as auth_login).

Exit codes: 3 = aiosmtpd missing, 4 = port already in use.
"""

import argparse
import base64
import asyncio
import errno
import json
import logging
import os
import smtplib
import sys

try:
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
except ImportError as e:  # pragma: no cover
    print(f"smtp_sink: cannot import aiosmtpd: {e}", file=sys.stderr, flush=True)
    sys.exit(3)


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def accept_any(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=True, auth_data=auth_data)


class Handler:
    def __init__(self, outdir, fail_first, lmtp_port, lmtp_user, stall_after_data=False,
                 oauth_tokens=None):
        self.stall_after_data = stall_after_data
        self.oauth_tokens = oauth_tokens
        self.outdir = outdir
        self.fail_remaining = fail_first
        self.lmtp_port = lmtp_port
        self.lmtp_user = lmtp_user
        self.seq = 0
        self.rejected = 0

    def _envelope_json(self, session, envelope):
        login = None
        data = getattr(session, "auth_data", None)
        if isinstance(data, LoginPassword):
            login = data.login.decode("utf-8", "replace")
        return {
            "mail_from": envelope.mail_from,
            "rcpt_to": list(envelope.rcpt_tos),
            "mail_options": list(envelope.mail_options),
            "rcpt_options": list(envelope.rcpt_options),
            "auth_login": login,
        }

    def _deliver_lmtp(self, mail_from, data):
        with smtplib.LMTP("127.0.0.1", self.lmtp_port) as lmtp:
            lmtp.sendmail(mail_from, [self.lmtp_user], data)

    async def auth_XOAUTH2(self, server, args):
        """SASL XOAUTH2: accepts the bearer tokens listed in --oauth-tokens
        (re-read each time; a removed line is an expired token)."""
        from aiosmtpd.smtp import AuthResult
        if not self.oauth_tokens:
            return AuthResult(success=False, handled=False)
        if len(args) > 1:
            blob = base64.b64decode(args[1])
        else:
            blob = await server.challenge_auth("", encode_to_b64=False)
        fields = dict(
            part.split(b"=", 1) if b"=" in part else (part, b"")
            for part in blob.split(b"\x01") if part
        )
        token = fields.get(b"auth", b"").removeprefix(b"Bearer ").decode("ascii", "replace")
        with open(self.oauth_tokens) as f:
            valid = {line.strip() for line in f if line.strip()}
        ok = token in valid
        print(f"smtp_sink: XOAUTH2 {'accepted' if ok else 'refused'}", flush=True)
        return AuthResult(success=ok, handled=False, auth_data=fields.get(b"user", b"").decode())

    async def handle_DATA(self, server, session, envelope):
        meta = self._envelope_json(session, envelope)
        if self.stall_after_data:
            # The body has arrived; the final reply never comes (a stalled
            # server: the client cannot know whether the mail was accepted).
            print("smtp_sink: stalling after DATA", flush=True)
            await asyncio.Event().wait()
        if self.fail_remaining > 0:
            self.fail_remaining -= 1
            self.rejected += 1
            path = os.path.join(self.outdir, f"rejected-{self.rejected:06d}.json")
            write_atomic(path, json.dumps(meta).encode())
            print(f"smtp_sink: 451 for message from {envelope.mail_from!r}", flush=True)
            return "451 4.3.0 Temporary failure (test sink), try again later"

        self.seq += 1
        base = os.path.join(self.outdir, f"{self.seq:06d}")
        data = envelope.original_content
        write_atomic(base + ".eml", data)
        meta["lmtp_error"] = None
        if self.lmtp_port:
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(
                    None, self._deliver_lmtp, envelope.mail_from, data
                )
            except Exception as e:  # recorded, and visible in the sink log
                meta["lmtp_error"] = repr(e)
                print(f"smtp_sink: LMTP delivery failed: {e!r}", file=sys.stderr, flush=True)
        write_atomic(base + ".json", json.dumps(meta).encode())
        print(
            f"smtp_sink: stored {self.seq:06d} from {envelope.mail_from!r} "
            f"to {envelope.rcpt_tos!r} ({len(data)} bytes)",
            flush=True,
        )
        return f"250 2.0.0 OK queued as {self.seq:06d}"


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--lmtp-port", type=int, default=0)
    ap.add_argument("--lmtp-user", default="concierge")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--implicit-tls", action="store_true")
    ap.add_argument("--stall-after-data", action="store_true")
    ap.add_argument("--oauth-tokens")
    args = ap.parse_args()
    tls_context = None
    if args.tls_cert:
        import ssl
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(args.tls_cert, args.tls_key)

    # aiosmtpd warns about its own deprecated login_data on every AUTH.
    logging.basicConfig(level=logging.ERROR)
    handler = Handler(
        args.dir, args.fail_first, args.lmtp_port, args.lmtp_user, args.stall_after_data,
        args.oauth_tokens,
    )
    # Implicit TLS (RFC 8314, port 465 style): TLS from the first byte, no
    # STARTTLS offered.
    server_ssl = tls_context if args.implicit_tls else None
    starttls_context = None if args.implicit_tls else tls_context
    loop = asyncio.get_running_loop()

    def factory():
        return SMTP(
            handler,
            hostname="smtp-sink.test",
            enable_SMTPUTF8=True,
            auth_require_tls=False,
            authenticator=accept_any,
            tls_context=starttls_context,
            require_starttls=starttls_context is not None,
            loop=loop,
        )

    try:
        server = await loop.create_server(
            factory, host="127.0.0.1", port=args.port, ssl=server_ssl
        )
    except OSError as e:
        print(f"smtp_sink: cannot listen on 127.0.0.1:{args.port}: {e}", file=sys.stderr, flush=True)
        sys.exit(4 if e.errno == errno.EADDRINUSE else 1)
    print(f"smtp_sink: listening on 127.0.0.1:{args.port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
