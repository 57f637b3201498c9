# syntax=docker/dockerfile:1.7
# pulse Faust jobs: the ingest (raw.* -> clean.*) and the loader (results -> ClickHouse), and
# `pulse migrate` (the loader's init container). Build from the repository root:
#   docker build -f infra/docker/faust-jobs.Dockerfile -t pulse/faust-jobs:0.1.0 .
# Run: `docker run pulse/faust-jobs:0.1.0 ingest|loader|migrate`.
# Dependencies are exactly the pinned set of pyproject.toml + constraints.txt (linux/amd64
# wheels; crcmod, an sdist, is compiled in the wheels stage so the image has no compiler).

FROM python:3.11.15-slim-bookworm AS wheels
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
 && pip wheel --wheel-dir /wheels -c constraints.txt -r requirements.txt

FROM python:3.11.15-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PULSE_METRICS__HOST=0.0.0.0 \
    PULSE_INGEST__DATA_DIR=/var/lib/pulse/ingest \
    PULSE_LOADER__DATA_DIR=/var/lib/pulse/loader
RUN groupadd --system --gid 10001 pulse \
 && useradd --system --uid 10001 --gid pulse --home-dir /var/lib/pulse --create-home pulse
WORKDIR /opt/pulse
COPY --from=wheels /build/requirements.txt /tmp/requirements.txt
COPY constraints.txt ./
RUN --mount=type=bind,from=wheels,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels -c constraints.txt -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt
# The code runs from its source tree: migrations and event schemas are read next to it.
COPY pyproject.toml README.md ./
COPY pipelines ./pipelines
COPY jobs ./jobs
COPY schemas ./schemas
COPY infra/docker/faust-entrypoint.sh /usr/local/bin/pulse-job
RUN pip install --no-index --no-deps --no-build-isolation -e . \
 && python -c "import jobs, pipelines.config"
USER 10001:10001
EXPOSE 9401 9402
ENTRYPOINT ["/usr/local/bin/pulse-job"]
CMD ["ingest"]
