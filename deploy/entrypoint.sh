#!/bin/sh
# Entrypoint of the quickcommerce image (Dockerfile, docker-compose.yml).
#
#   web            (the default) the app server (python -m quickcommerce.serve: uvicorn)
#                  on ${BIND_ADDRESS:-0.0.0.0}:${PORT:-8000}
#   migrate        apply migrations, then publish the static files (below)
#   seed           demo data: manage.py seed
#   worker         sends the queued order emails: manage.py emailworker (needs REDIS_URL)
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
        # --proxy-headers: the client address comes from nginx's X-Forwarded-For, and
        # only from nginx's: FORWARDED_ALLOW_IPS (the Dockerfile: loopback; compose:
        # nginx's network). Other peers are keyed on their own address.
        # Everything else (backlog, pings, limits) is in quickcommerce/serve.py.
        exec python -m quickcommerce.serve --host "${BIND_ADDRESS:-0.0.0.0}" --proxy-headers
        ;;
    migrate)
        python manage.py migrate --noinput
        publish_static
        ;;
    seed)
        exec python manage.py seed
        ;;
    worker)
        exec python manage.py emailworker
        ;;
    *)
        exec "$@"
        ;;
esac
