# ccserver's image: `docker build -t ccserver .` (deploy/compose.yaml builds it too).
# Stage 1 builds the wheel (the Alembic migrations are inside it, ccserver/migrations);
# stage 2 installs only the wheel: no source tree, no compiler, no editable install.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY ccserver ccserver
COPY migrations migrations
COPY cti cti
COPY acd acd
COPY ivr ivr
COPY contracts contracts
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
    && useradd --system --home /var/lib/ccserver ccserver \
    && mkdir -p /var/lib/ccserver/spool /etc/ccserver \
    && chown -R ccserver /var/lib/ccserver
# the configuration: relative paths in it are relative to /etc/ccserver; mount your own
# ccserver.yaml, acd.yaml and ivr.yaml over these
COPY deploy/ccserver.yaml /etc/ccserver/ccserver.yaml
COPY config/acd.example.yaml /etc/ccserver/acd.yaml
COPY config/ivr.example.yaml /etc/ccserver/ivr.yaml
USER ccserver
WORKDIR /var/lib/ccserver
# the spool keeps events while the database is down; a SQLite store would live here too
VOLUME ["/var/lib/ccserver/spool", "/var/lib/ccserver"]
# HTTP inside the container on every interface; FastAGI too (Asterisk runs elsewhere)
ENV CCSERVER_HTTP__HOST=0.0.0.0 \
    CCSERVER_IVR__AGI_HOST=0.0.0.0
EXPOSE 8080 4573
# alive = /healthz answers: 200 (ok) or 503 (degraded: Asterisk or the database away,
# which a restart would not fix; the wallboard and /healthz show it)
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request, urllib.error\ntry:\n    urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)\nexcept urllib.error.HTTPError as e:\n    sys.exit(e.code != 503)\nexcept OSError:\n    sys.exit(1)"]
STOPSIGNAL SIGTERM
CMD ["ccserver", "run", "--config", "/etc/ccserver/ccserver.yaml"]
