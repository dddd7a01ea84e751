"""An OTLP/HTTP receiver for the integration tests.

Decodes what it is sent with OpenTelemetry's published protobuf
definitions (the `opentelemetry-proto` package) and prints one JSON object
per span and per metric data point on stdout, after a first line with the
port it listens on (127.0.0.1, a free port). `POST /control/stall` makes
exports wait (the connection stays open, unanswered) until
`POST /control/resume`, to play a collector that hangs.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

# Bounds what one export may make us hold.
MAX_BODY = 16 * 1024 * 1024

running = threading.Event()
running.set()
out = threading.Lock()


def emit(record):
    with out:
        sys.stdout.write(json.dumps(record, sort_keys=True) + "\n")
        sys.stdout.flush()


def value(v):
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [value(x) for x in v.array_value.values]
    return getattr(v, kind)


def attributes(kvs):
    return {kv.key: value(kv.value) for kv in kvs}


def traces(body):
    request = trace_service_pb2.ExportTraceServiceRequest()
    request.ParseFromString(body)
    for rs in request.resource_spans:
        resource = attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for span in ss.spans:
                emit({
                    "signal": "span",
                    "service": resource.get("service.name"),
                    "scope": ss.scope.name,
                    "name": span.name,
                    "kind": trace_pb2.Span.SpanKind.Name(span.kind),
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex(),
                    "status": trace_pb2.Status.StatusCode.Name(span.status.code),
                    "attributes": attributes(span.attributes),
                })


def metrics(body):
    request = metrics_service_pb2.ExportMetricsServiceRequest()
    request.ParseFromString(body)
    for rm in request.resource_metrics:
        resource = attributes(rm.resource.attributes)
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                data = getattr(metric, kind)
                for point in data.data_points:
                    record = {
                        "signal": "metric",
                        "service": resource.get("service.name"),
                        "scope": sm.scope.name,
                        "name": metric.name,
                        "unit": metric.unit,
                        "type": kind,
                        "attributes": attributes(point.attributes),
                    }
                    if kind == "histogram":
                        record["count"] = point.count
                        record["bounds"] = list(point.explicit_bounds)
                    else:
                        record["value"] = (
                            point.as_int if point.WhichOneof("value") == "as_int" else point.as_double
                        )
                    emit(record)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", content_type="application/x-protobuf"):
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            self.answer(413)
            return
        body = self.rfile.read(length)
        if self.path == "/control/stall":
            running.clear()
            self.answer(200, b"stalled", "text/plain")
            return
        if self.path == "/control/resume":
            running.set()
            self.answer(200, b"resumed", "text/plain")
            return
        if self.headers.get("content-type") != "application/x-protobuf":
            self.answer(415)
            return
        if not running.is_set():
            emit({"signal": "stalled", "path": self.path})
            running.wait()
        if self.path == "/v1/traces":
            traces(body)
            self.answer(200, trace_service_pb2.ExportTraceServiceResponse().SerializeToString())
        elif self.path == "/v1/metrics":
            metrics(body)
            self.answer(200, metrics_service_pb2.ExportMetricsServiceResponse().SerializeToString())
        else:
            self.answer(404)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    emit({"signal": "listening", "port": server.server_address[1]})
    server.serve_forever()


if __name__ == "__main__":
    main()
