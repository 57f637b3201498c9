"""JVM_ARGS of the local Flink JVM: pulse's heap and collector, unless the user set them."""

from __future__ import annotations

from pipelines.flink.job import FlinkOptions, local_jvm_args


def test_heap_and_collector_are_added_to_the_users_arguments() -> None:
    options = FlinkOptions(jvm_heap="1g", collector="ParallelGC")
    assert local_jvm_args("", options) == "-Xmx1g -XX:+UseParallelGC"
    assert local_jvm_args("-Dx=1", options) == "-Dx=1 -Xmx1g -XX:+UseParallelGC"


def test_the_users_heap_and_collector_win() -> None:
    options = FlinkOptions(jvm_heap="1g", collector="ParallelGC")
    assert local_jvm_args("-Xmx3g", options) == "-Xmx3g -XX:+UseParallelGC"
    assert local_jvm_args("-XX:+UseG1GC", options) == "-XX:+UseG1GC -Xmx1g"
    assert local_jvm_args("-XX:+UseZGC -Xmx4g", options) == "-XX:+UseZGC -Xmx4g"


def test_nothing_is_added_when_nothing_is_asked() -> None:
    assert local_jvm_args("-Dy=2", FlinkOptions(jvm_heap=None)) == "-Dy=2"
    assert local_jvm_args("", FlinkOptions(jvm_heap=None)) == ""
