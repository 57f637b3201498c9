# syntax=docker/dockerfile:1.7
# pulse streaming job image for the Flink Kubernetes Operator: the official Flink 2.2.1 image
# (Java 17, Ubuntu noble) plus CPython 3.11 with apache-flink and pulse, the Kafka SQL
# connector in lib/, the Prometheus reporter and the S3 filesystem as plugins. Build from the
# repository root:
#   docker build -f infra/docker/flink-job.Dockerfile -t pulse/flink-job:0.1.0 .
# Versions must agree with pyproject.toml (apache-flink) and infra/pom.xml (the connector):
# `make deploy-check` compares them.

FROM python:3.11.15-slim-bookworm AS python
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
 && pip wheel --wheel-dir /wheels -c constraints.txt -r requirements.txt

FROM flink:2.2.1-scala_2.12-java17
USER 0:0
# CPython 3.11 of the official python image (noble ships 3.12 only); glibc 2.36 binaries run
# on noble's 2.39; these are the shared libraries its extension modules link.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libbz2-1.0 libexpat1 libffi8 liblzma5 libncursesw6 libreadline8t64 libsqlite3-0 \
      libssl3t64 libuuid1 zlib1g \
 && rm -rf /var/lib/apt/lists/*
COPY --from=python /usr/local/ /usr/local/
RUN ldconfig \
 && python3.11 -c "import ssl, ctypes, bz2, lzma, zlib, sqlite3, uuid, pyexpat, readline"
ENV PATH=/usr/local/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PULSE_METRICS__HOST=0.0.0.0 \
    PULSE_JARS_DIR=/opt/pulse/jars
WORKDIR /opt/pulse
COPY --from=python /build/requirements.txt /tmp/requirements.txt
COPY constraints.txt ./
RUN --mount=type=bind,from=python,source=/wheels,target=/wheels \
    python3.11 -m pip install --no-index --find-links /wheels -c constraints.txt -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt
COPY pyproject.toml README.md ./
COPY pipelines ./pipelines
COPY jobs ./jobs
COPY schemas ./schemas
RUN python3.11 -m pip install --no-index --no-deps --no-build-isolation -e . \
 && python3.11 -c "import pyflink, jobs, pipelines.config"
# The Kafka SQL connector, verified against Maven Central's artefact, on the cluster classpath;
# pulse's job finds it through PULSE_JARS_DIR (its classes are all org.apache.flink.*: loaded
# parent-first from lib/, so listing it in pipeline.jars as well is harmless).
ADD --checksum=sha256:5605c691d11a501382c383fecba37a7a552467da5ab7ba904ef5d6f3d62c5616 \
    https://repo1.maven.org/maven2/org/apache/flink/flink-sql-connector-kafka/5.0.0-2.2/flink-sql-connector-kafka-5.0.0-2.2.jar \
    /opt/flink/lib/flink-sql-connector-kafka-5.0.0-2.2.jar
# Plugins: the Prometheus reporter (from the apache-flink 2.2.1 wheel: the same build as this
# Flink) and the S3 filesystem for checkpoints, savepoints and HA metadata.
RUN mkdir -p /opt/pulse/jars/flink /opt/flink/plugins/metrics-prometheus /opt/flink/plugins/s3-fs-presto \
 && ln -sf /opt/flink/lib/flink-sql-connector-kafka-5.0.0-2.2.jar /opt/pulse/jars/flink/ \
 && cp "$(python3.11 -c 'import os, pyflink; print(os.path.dirname(pyflink.__file__))')/plugins/metrics-prometheus/flink-metrics-prometheus-2.2.1.jar" \
       /opt/flink/plugins/metrics-prometheus/ \
 && cp /opt/flink/opt/flink-s3-fs-presto-2.2.1.jar /opt/flink/plugins/s3-fs-presto/ \
 && test -f /opt/flink/opt/flink-python-2.2.1.jar \
 && chmod 0644 /opt/flink/lib/flink-sql-connector-kafka-5.0.0-2.2.jar \
 && chown -R flink:flink /opt/flink/plugins /opt/pulse
USER 9999:9999
WORKDIR /opt/flink
