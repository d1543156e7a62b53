#!/bin/sh
# Entrypoint of the quickcommerce image (Dockerfile, docker-compose.yml).
#
#   web            (the default) daphne on ${DAPHNE_BIND:-0.0.0.0}:${PORT:-8000}
#   migrate        apply migrations, then publish the static files (below)
#   seed           demo data: manage.py seed
#   anything else  run as given, e.g. `python manage.py createsuperuser`
#
# Publishing static files: collectstatic ran at build time into staticfiles/.
# With STATIC_PUBLISH_DIR set (compose: the volume nginx serves /static/ from),
# `migrate` copies them there. The copy adds and overwrites but never deletes,
# so while web replicas are replaced one at a time, pages rendered by the old
# and by the new version both find their hashed files.
set -eu

cd "$(dirname "$0")/.."

publish_static() {
    [ -n "${STATIC_PUBLISH_DIR:-}" ] || return 0
    source_dir="${STATIC_BUILD_DIR:-staticfiles}"
    if [ ! -f "$source_dir/staticfiles.json" ]; then
        echo "entrypoint: no collectstatic output in $source_dir" >&2
        exit 1
    fi
    cp -R "$source_dir/." "$STATIC_PUBLISH_DIR/"
    echo "entrypoint: static files published to $STATIC_PUBLISH_DIR"
}

case "${1:-web}" in
    web)
        # --proxy-headers: the client address comes from nginx's X-Forwarded-For
        # (the app is reachable only through nginx; compose publishes no web port).
        # --websocket_timeout: as in `make run`; sockets are closed after 12 h,
        # within the channel layer's group expiry, and clients reconnect.
        # backlog=1024: Twisted's default listen backlog (50) resets handshakes when
        # many clients reconnect at once (docs/benchmarks.md); raise net.core.somaxconn too.
        exec python -m daphne -e "tcp:port=${PORT:-8000}:interface=${DAPHNE_BIND:-0.0.0.0}:backlog=1024" \
            --proxy-headers --websocket_timeout 43200 quickcommerce.asgi:application
        ;;
    migrate)
        python manage.py migrate --noinput
        publish_static
        ;;
    seed)
        exec python manage.py seed
        ;;
    *)
        exec "$@"
        ;;
esac
