"""A scripted HTTP server on 127.0.0.1 for transport and reader tests: answers GET and POST from
a list of ``(status, body[, headers])`` and records every request (query, headers, gunzipped
body, form, and every name/value pair in order for repeated names such as graphite's ``target``).
"""

import gzip
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, parse_qsl, urlsplit


class Recorded:
    def __init__(self, method, target, headers, raw):
        self.method = method
        parts = urlsplit(target)
        self.path = parts.path
        self.query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.headers = headers
        self.raw = raw
        self.body = gzip.decompress(raw) if headers.get("Content-Encoding") == "gzip" else raw
        is_form = headers.get("Content-Type", "").startswith("application/x-www-form")
        self.form = {k: v[0] for k, v in parse_qs(self.body.decode()).items()} if is_form else {}
        # the query string's pairs, then the form's: in order, names repeated as sent
        self.pairs = parse_qsl(parts.query, keep_blank_values=True) + (
            parse_qsl(self.body.decode(), keep_blank_values=True) if is_form else []
        )


class Scripted:
    """An HTTP server on 127.0.0.1 answering from a script of (status, body[, headers])."""

    def __init__(self, *answers, delay=0.0, tls=None):
        self.answers = list(answers)
        self.delay = delay
        self.requests = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                server.requests.append(Recorded(self.command, self.path, dict(self.headers), raw))
                if server.delay and server.release.wait(server.delay):
                    return
                answer = server.answers.pop(0) if server.answers else (204, b"")
                status, body = answer[:2]
                headers = answer[2] if len(answer) > 2 else {}
                body = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
