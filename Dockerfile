# syntax=docker/dockerfile:1
# quickcommerce: one image for the web instances and the one-shot jobs
# (docker-compose.yml: web, migrate, seed). Entry point: deploy/entrypoint.sh.
#
#   docker build -t quickcommerce .
#   docker run -e SECRET_KEY=... -e ALLOWED_HOSTS=localhost -p 8000:8000 quickcommerce
#
# The server believes X-Forwarded-For/-Proto only from FORWARDED_ALLOW_IPS (default:
# loopback, i.e. nobody outside the container); behind a proxy, set it to the proxy's
# address or network (compose: nginx's network). Anyone else is keyed on their own
# address by the rate limits, whatever X-Forwarded-For they send.
#
# Without MONGO_URI the app uses SQLite at /data/db.sqlite3 (mount a volume on
# /data and run the `migrate` command first); compose sets MONGO_URI and REDIS_URL.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: dependencies into a virtualenv, the code, collectstatic ---------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt

WORKDIR /app
COPY . .
# collectstatic needs production settings (hashed, compressed files) and a
# secret to import them; this throwaway one exists only in this RUN step.
RUN DEBUG=false \
    SECRET_KEY=collectstatic-at-build-time-only-never-used-to-sign-anything-000000 \
    python manage.py collectstatic --noinput \
    && python -m compileall -q .

# --- app: the runtime image ---------------------------------------------------
FROM ${PYTHON_IMAGE} AS app

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=quickcommerce.settings \
    DEBUG=false \
    PORT=8000 \
    FORWARDED_ALLOW_IPS=127.0.0.1,::1 \
    SQLITE_PATH=/data/db.sqlite3

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app \
    && mkdir -p /data /srv/static /srv/media \
    && chown app:app /data /srv/static /srv/media

COPY --from=build /opt/venv /opt/venv
# Code and collected static files stay owned by root: the app cannot rewrite them.
COPY --from=build /app /app

WORKDIR /app
USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "/app/deploy/healthcheck.py"]

ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["web"]
