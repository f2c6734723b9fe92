"""The generic adapter's HTTP source: a programme's system POSTs its records as JSON instead of exporting a file
(`citypoints issue --adapter FILE --listen HOST:PORT`).

One request is a batch: a JSON object (one record), a JSON array of records, or `{"records": [...]}`. It must carry
`CityPoints-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>` (ledger_node.signed_payload,
the scheme of the API's webhooks) with `t` within the tolerance (300 s), and a Content-Length of at most
`max_body` bytes (1 MiB) holding at most `max_records` records (1,000). Each record goes through the same checks
as a file's line (MappedAdapter.check: fields, conditions, rule, amount; numbers read as Decimal, so a float is
`inexact_number`), and the valid ones are issued in the request, citing the published rules version the run
cites, with the same refs a file would give: a record POSTed twice (a retry after a lost answer) is a duplicate the
ledger skips, never issued twice. Nothing is sent for a request refused whole.

Answers (JSON): 200 `{"object": "issuance", "issued", "issuedPoints", "duplicates", "rejected": [{"index", "reason",
"detail"}], "rulesCited"}`; refused whole with `{"error": {"code", "message"}}`: 401 `invalid_signature` (missing,
malformed, wrong or stale), 411 `length_required`, 413 `body_too_large`, 400 `invalid_json`, 422 `invalid_batch`
(not records, or more than `max_records`), 404 `not_found` (any path but `/` and `/records`), 405 for any method
but POST, and 502 with the SDK's error code when the ledger refused or could not be reached (the request may be
retried as it is: duplicates are skipped). Requests are issued one at a time, in arrival order.
"""
from __future__ import annotations

import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from issuer_sdk import errors
from ledger_node.signed_payload import SignatureError, check

SIGNATURE_HEADER = "CityPoints-Signature"
MAX_BODY = 1 << 20
MAX_RECORDS = 1000
TOLERANCE_S = 300


class RecordSource:
    """What the HTTP source does with a request's body, apart from HTTP: check, issue, answer."""

    def __init__(self, adapter, client, secret: str, rules_cited: int | None, *, max_body: int = MAX_BODY,
                 max_records: int = MAX_RECORDS, tolerance: int = TOLERANCE_S):
        if not secret:
            raise errors.ConfigurationError("the HTTP source needs a signing secret (CITYPOINTS_SOURCE_SECRET)")
        self.adapter, self.client, self.secret, self.rules_cited = adapter, client, secret, rules_cited
        self.max_body, self.max_records, self.tolerance = max_body, max_records, tolerance
        self._issuing = threading.Lock()  # one request's batch at a time: arrival order, one nonce sequence

    def handle(self, body: bytes, signature: str | None) -> tuple[int, dict]:
        if not signature:
            return _refused(401, "invalid_signature", f"no {SIGNATURE_HEADER} header")
        try:
            check(body, signature, self.secret, tolerance=self.tolerance)
        except SignatureError as exc:
            return _refused(401, "invalid_signature", str(exc))
        try:
            data = json.loads(body, parse_float=Decimal)
        except ValueError as exc:
            return _refused(400, "invalid_json", f"the body is not JSON: {exc}")
        records = data.get("records") if isinstance(data, dict) and "records" in data else data
        if isinstance(records, dict):
            records = [records]
        if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
            return _refused(422, "invalid_batch", "the body is a record (an object), a list of records, or "
                                                  "{\"records\": [...]}, with at least one record")
        if len(records) > self.max_records:
            return _refused(422, "invalid_batch", f"at most {self.max_records} records a request")
        outcomes = [self.adapter.check(r, line=i) for i, r in enumerate(records)]
        accepted = [o.issuance for o in outcomes if not o.rejected]
        rejected = [{"index": o.line, "reason": o.reason, "detail": o.detail} for o in outcomes if o.rejected]
        issued = points = duplicates = 0
        if accepted:
            try:
                with self._issuing:
                    summary = self.client.issue_many(accepted, rules_version=self.rules_cited)
            except errors.IssuerError as exc:
                return _refused(502, exc.code, str(exc))
            issued, points, duplicates = summary.issued, summary.issued_amount, summary.duplicates
        return 200, {"object": "issuance", "issued": issued, "issuedPoints": points, "duplicates": duplicates,
                     "rejected": rejected, "rulesCited": self.rules_cited}


def serve(source: RecordSource, host: str, port: int) -> ThreadingHTTPServer:
    """An HTTP server for `source` on host:port (0: any free port), not yet serving: call serve_forever()."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "citypoints-issue"

        def do_POST(self):  # noqa: N802 - http.server's name
            if self.path.rstrip("/") not in ("", "/records"):
                return self._answer(*_refused(404, "not_found", "POST records to / or /records"))
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                return self._answer(*_refused(411, "length_required", "a Content-Length is required"))
            if int(length) > source.max_body:
                self.close_connection = True  # the body is not read
                return self._answer(*_refused(413, "body_too_large", f"at most {source.max_body} bytes a request"))
            body = self.rfile.read(int(length))
            self._answer(*source.handle(body, self.headers.get(SIGNATURE_HEADER)))

        def do_GET(self):  # noqa: N802
            self._answer(*_refused(405, "method_not_allowed", "POST records"))

        do_PUT = do_DELETE = do_PATCH = do_GET

        def _answer(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt, *args):  # the command prints its own lines
            pass

    return ThreadingHTTPServer((host, port), Handler)


def _refused(status: int, code: str, message: str) -> tuple[int, dict]:
    return status, {"error": {"code": code, "message": message}}


__all__ = ["MAX_BODY", "MAX_RECORDS", "RecordSource", "SIGNATURE_HEADER", "serve"]
