#!/usr/bin/env bash
# Upgrade the running stack to the checked-out code without dropping requests
# (deploy/EC2.md, "Upgrading"). Run from anywhere, on the host, after `git pull`:
#
#   deploy/rollout.sh
#
# 1. build the new image (the old containers keep running the old one);
# 2. run the one-shot `migrate`: migrations, then the new static files are
#    added next to the old ones in the volume nginx serves;
# 3. replace the web replicas one at a time: start one new replica, wait until
#    it is healthy and nginx has seen it in DNS, then stop one old replica.
#    nginx retries connections an instance refuses on the next one; websocket
#    clients of the stopped replica reconnect and get a fresh snapshot.
#
# Migrations must be backwards compatible with the code still running (add
# first, remove in a later release), because old replicas serve while step 3 runs.
set -euo pipefail
cd "$(dirname "$0")/.."

HEALTH_TIMEOUT="${HEALTH_TIMEOUT:-120}"   # seconds for a new replica to become healthy
DNS_SETTLE="${DNS_SETTLE:-10}"            # > nginx's resolver valid=5s (deploy/nginx.conf)
STOP_TIMEOUT="${STOP_TIMEOUT:-30}"        # seconds between SIGTERM and SIGKILL

compose() { docker compose "$@"; }

wait_until_web_healthy() {
    local deadline=$((SECONDS + HEALTH_TIMEOUT)) id status pending
    while :; do
        pending=0
        for id in $(compose ps -q web); do
            status=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id")
            [ "$status" = healthy ] || pending=$((pending + 1))
        done
        [ "$pending" -eq 0 ] && return 0
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "rollout: web replicas not healthy after ${HEALTH_TIMEOUT}s; old replicas left running" >&2
            compose ps web >&2
            return 1
        fi
        sleep 2
    done
}

echo "rollout: building the new image"
compose build web

echo "rollout: migrations and static files"
compose run --rm migrate

mapfile -t old < <(compose ps -q web)
count=${#old[@]}
if [ "$count" -eq 0 ]; then
    echo "rollout: no web replica is running; starting the stack"
    compose up -d
    exit 0
fi

for id in "${old[@]}"; do
    echo "rollout: starting a new replica next to $(docker inspect -f '{{.Name}}' "$id")"
    compose up -d --no-deps --no-recreate --scale "web=$((count + 1))" web
    wait_until_web_healthy
    sleep "$DNS_SETTLE"
    echo "rollout: retiring $(docker inspect -f '{{.Name}}' "$id")"
    docker stop --time "$STOP_TIMEOUT" "$id" >/dev/null
    docker rm "$id" >/dev/null
done

echo "rollout: done"
compose ps web
