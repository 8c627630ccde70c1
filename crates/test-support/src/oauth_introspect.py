"""A tiny OAuth 2.0 token introspection endpoint (RFC 7662) for Dovecot's
oauth2 passdb in tests.

    python3 oauth_introspect.py --port PORT --tokens FILE --user USER

FILE holds the valid tokens, one per line, re-read on every request (a test
makes a token expire by removing its line). A POST with `token=...` gets
{"active": true, "username": USER} for a valid token, {"active": false}
otherwise. Listens on 127.0.0.1 only.
"""
import argparse
import json
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--user", required=True)
    args = ap.parse_args()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            form = urllib.parse.parse_qs(self.rfile.read(length).decode("ascii", "replace"))
            token = (form.get("token") or [""])[0]
            if not token:
                # Dovecot may also send the token as a Bearer header.
                auth = self.headers.get("Authorization") or ""
                token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
            with open(args.tokens) as f:
                valid = {line.strip() for line in f if line.strip()}
            if token in valid:
                body = {"active": True, "username": args.user}
            else:
                body = {"active": False}
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            print(f"introspect: active={body['active']}", flush=True)

        do_GET = do_POST

        def log_message(self, *a):
            pass

    # --port 0: the kernel picks a free port at the bind, and the line
    # below tells it (no window in which another process can take it)
    server = HTTPServer(("127.0.0.1", args.port), Handler)
    port = server.server_address[1]
    print(f"introspect: listening on 127.0.0.1:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
