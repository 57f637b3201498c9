"""Streaming ingest (Kafka): raw topics -> clean topics, dead letters and late events.

* :mod:`pipelines.streaming.ingest` — the per-message step (validate, replay, late, clean),
  no Kafka: unit-tested list-in, list-out;
* :mod:`pipelines.streaming.deadletter` — the dead-letter / late-event JSON values;
* :mod:`pipelines.streaming.kafka_runner` — the aiokafka batch loop, its state changelog and the
  crash-recovery protocol (read its docstring for the exact guarantee);
* ``jobs/faust_ingest.py`` — the Faust app running it (``faust -A jobs.faust_ingest worker``).
"""
