#!/usr/bin/env python3
"""A recording HTTP proxy: forwards every request to the gateway and appends the exchange to an
NDJSON file. `scripts/openapi-examples` runs the test suite through it to collect real
request and response examples for the OpenAPI document.

    record-exchanges.py PORT OUT.ndjson
"""

import http.client
import json
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
out = open(sys.argv[2], "a", encoding="utf-8")
HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
       "upgrade", "proxy-authorization", "proxy-authenticate"}


def text(raw):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=60)
        target = url.path + (f"?{url.query}" if url.query else "")
        try:
            conn.request(self.command, target, body=body or None, headers=headers)
            res = conn.getresponse()
            data = res.read()
        except OSError as e:
            self.send_error(502, str(e))
            return
        finally:
            conn.close()
        self.send_response_only(res.status, res.reason)
        for k, v in res.getheaders():
            if k.lower() not in HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        record = {
            "user_agent": self.headers.get("user-agent"),
            "method": self.command,
            "path": url.path,
            "query": url.query,
            "request_type": self.headers.get("content-type"),
            "request": text(body),
            "status": res.status,
            "response_type": res.getheader("content-type"),
            "response": text(data),
        }
        with lock:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            out.flush()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = forward


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients that drop a kept-alive connection are not news.
        pass


Server(("127.0.0.1", int(sys.argv[1])), Proxy).serve_forever()
