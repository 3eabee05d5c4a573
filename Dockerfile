# hedge-monitor image: the `hedge-monitor` command (process, ingest, simulate, ...).
# Built by docker-compose.yml for the monitor-processor, monitor-ingest and simulator services.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# pyproject.toml names README.md as the long description; the glob keeps the build working
# before a README exists (at least one source, pyproject.toml, always matches).
COPY pyproject.toml README*.md ./
COPY monitor ./monitor
RUN [ -f README.md ] || echo "# hedge-monitor" > README.md \
    && pip install . \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin hedge

WORKDIR /
USER hedge
# /metrics: processor 9464, ingest 9465 (docker-compose.yml); simulator websocket 8765.
EXPOSE 9464 9465 8765
ENTRYPOINT ["hedge-monitor"]
CMD ["--help"]
