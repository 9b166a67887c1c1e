"""The app the deploy tests ship: serves /health on the port from shared/app.conf, answering
with its version, or 500 when it is a bad build (a BAD file in the release, or its version in
$BAD_VERSIONS); and /metrics for Prometheus, where a build with an ERROR_RATIO file fails that
share of its (simulated, 100 a second) requests while /health still answers 200."""
import http.server
import os
import time

here = os.path.dirname(os.path.abspath(__file__))
shared = os.path.join(os.path.dirname(os.path.dirname(here)), "shared")
conf = {}
with open(os.path.join(shared, "app.conf")) as f:
    for line in f:
        if "=" in line:
            k, v = line.strip().split("=", 1)
            conf[k] = v
version = open(os.path.join(here, "VERSION")).read().strip()
ratio_file = os.path.join(here, "ERROR_RATIO")
error_ratio = float(open(ratio_file).read()) if os.path.exists(ratio_file) else 0.0
started = time.time()
bad = os.path.exists(os.path.join(here, "BAD")) or version in os.environ.get("BAD_VERSIONS", "").split()


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/metrics":
            served = int((time.time() - started) * 100)
            errors = int(served * error_ratio)
            v = 'version="%s"' % version
            body = (
                "# TYPE shop_error_ratio gauge\n"
                "shop_error_ratio{%s} %s\n"
                "# TYPE shop_requests_total counter\n"
                "shop_requests_total{%s,code=\"200\"} %d\n"
                "shop_requests_total{%s,code=\"500\"} %d\n"
            ) % (v, error_ratio, v, served - errors, v, errors)
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if bad:
            code, body = 500, "broken build %s" % version
        else:
            code, body = 200, "version=%s greeting=%s" % (version, conf.get("greeting", ""))
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", int(conf["port"])), Health).serve_forever()
