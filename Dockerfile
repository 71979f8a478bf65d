FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY ccserver ccserver
COPY cti cti
COPY acd acd
COPY ivr ivr
COPY migrations migrations
COPY config config
# editable: migrations/ and config/ stay beside the code, where ccserver finds them
RUN pip install --no-cache-dir -e . && useradd --system --home /var/lib/ccserver ccserver \
    && mkdir -p /var/lib/ccserver && chown ccserver /var/lib/ccserver
USER ccserver
WORKDIR /var/lib/ccserver
ENV CCSERVER_HTTP__HOST=0.0.0.0
EXPOSE 8080 4573
CMD ["ccserver", "run", "--config", "/etc/ccserver/ccserver.yaml"]
