"""A stand-in for the streaming loader, for the query endpoint tests (no Kafka needed).

``python -m tests.integration.warehouse.query_holder FOLDER serve|hold`` opens FOLDER with the
loader's own :class:`jobs.faust_loader.WarehouseWriter` (one warehouse thread), and with
``serve`` starts the loader's query endpoint on that thread exactly as the loader does. Then it
prints ``ready`` and reads commands on stdin, one per line:

* ``click ID DAY`` stores one valid, payable click batch the way the loader stores a batch of
  ``results.attributed_clicks`` (insert, then the payouts of its day rebuilt); prints ``stored``;
* ``quit`` (or the end of stdin) stops the endpoint and closes the warehouse, like the loader.
"""

from __future__ import annotations

import json
import sys

from jobs.faust_loader import WarehouseWriter
from pipelines.config import load_settings
from pipelines.load.kafka_records import Record
from pipelines.streaming import query_endpoint

CLICKS_TOPIC = "results.attributed_clicks"


def click(click_id: str, day: str, micros: int) -> bytes:
    return json.dumps(
        {
            "click_id": click_id,
            "event_time": f"{day}T10:00:00.123",
            "user_id": "u1",
            "ad_id": "a1",
            "campaign_id": "c1",
            "video_id": "v1",
            "creator_id": "cr1",
            "status": "valid",
            "currency": "USD",
            "gross_micros": 2 * micros,
            "creator_micros": micros,
            "platform_micros": micros,
            "creator_eligible": True,
            "payable": True,
            "not_payable_reason": None,
            "attributed_view_id": "vw1",
            "attributed_view_time": f"{day}T09:59:00",
        }
    ).encode()


def main() -> None:
    folder, mode = sys.argv[1], sys.argv[2]
    settings = load_settings(warehouse=folder)
    writer = WarehouseWriter(settings, None)
    writer._executor.submit(writer._warehouse).result(timeout=120)
    if mode == "serve":
        assert query_endpoint.serve(settings, writer._executor) is not None
    print("ready", flush=True)
    stored = 0
    for line in sys.stdin:
        command, *args = line.split()
        if command == "quit":
            break
        if command == "click":
            click_id, day = args
            stored += 1
            record = Record(click(click_id, day, 1000 * stored), 0, CLICKS_TOPIC, 0, stored)
            writer._executor.submit(writer.store, CLICKS_TOPIC, [record]).result(timeout=120)
            print("stored", flush=True)
    query_endpoint.stop_serving()
    writer.close()
    print("closed", flush=True)


if __name__ == "__main__":
    main()
