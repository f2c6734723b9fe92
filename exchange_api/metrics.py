"""Prometheus metrics (prometheus-client), served at /metrics."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter("citypoints_api_requests_total", "HTTP requests", ["route", "method", "status"],
                   registry=REGISTRY)
LATENCY = Histogram("citypoints_api_request_seconds", "HTTP request latency", ["route", "method"],
                    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5), registry=REGISTRY)
REDEMPTIONS = Counter("citypoints_redemptions_total", "Redemptions by outcome", ["status"], registry=REGISTRY)
UNSIMULATED = Counter("citypoints_unsimulated_total", "Intents relayed without their simulation on the node (it did "
                      "not answer in time): the chain checks them", ["kind"], registry=REGISTRY)
RELAYED = Counter("citypoints_relayed_transactions_total", "Transactions sent by the relayer", ["kind"],
                  registry=REGISTRY)
INDEXER_HEAD = Gauge("citypoints_indexer_head_block", "Chain head seen by the indexer", registry=REGISTRY)
INDEXER_BLOCK = Gauge("citypoints_indexer_block", "Last block the indexer processed", registry=REGISTRY)
INDEXER_LAG = Gauge("citypoints_indexer_lag_blocks", "Blocks the indexer is behind the head", registry=REGISTRY)
INDEXER_EVENTS = Counter("citypoints_indexer_events_total", "Events indexed", registry=REGISTRY)
INDEXER_REBUILDS = Counter("citypoints_indexer_rebuilds_total", "Rebuilds after a reset or reorganised chain",
                           registry=REGISTRY)
WEBHOOKS = Counter("citypoints_webhook_deliveries_total", "Webhook delivery attempts", ["outcome"],
                   registry=REGISTRY)
# Where a redemption's time goes before its answer, and how late the event loop runs what is due: a stalled loop
# delays every request at once (blocking work on it), a slow stage only its own.
STAGE = Histogram("citypoints_redemption_stage_seconds", "Time of each stage of a redemption before its answer",
                  ["stage"], buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
                  registry=REGISTRY)
LOOP_LAG = Histogram("citypoints_event_loop_lag_seconds", "How late the event loop woke a task due now",
                     buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5), registry=REGISTRY)
LOOP_LAG_MAX = Gauge("citypoints_event_loop_lag_max_seconds", "The longest event loop lag since the API started",
                     registry=REGISTRY)
STORE_WRITE = Histogram("citypoints_store_write_seconds", "One commit of the store's writer: a group of requests' "
                        "writes, or one background write (indexer, confirmations)", ["kind"],
                        buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5), registry=REGISTRY)
