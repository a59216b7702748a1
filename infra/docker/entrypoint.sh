#!/bin/sh
# Entrypoint of the Rituals image: runs one part of the platform as PID 1 (exec, so SIGTERM
# reaches it and a service stops cleanly).
#
#   matcher | onboarding | notifier | clock | gateway
#                                             python -m services.<name> (any services.<name>
#                                             package with a __main__ is found the same way)
#   rituals [ARGS...]                         the CLI, e.g. `rituals topics provision`
#   ready [--port N]                          readiness of the running service (exit 0 when its
#                                             rituals_ready gauge is 1): python -m infra.probe
#   -h | --help | (nothing)                   the CLI's help
#   anything else                             run as a command (e.g. `sh` to look around)
#
# Secrets from files: for every RITUALS_* or KAFKA_* variable NAME_FILE=/path, NAME is set to
# the file's content (its final newline dropped) and NAME_FILE removed, as with Docker or
# Compose secrets and Kubernetes Secret volumes. Setting both NAME and NAME_FILE is an error.
# The services' own *_POLICY_FILE settings are paths they read themselves and are left alone.
set -eu

for name in $(env | sed -n -E 's/^((RITUALS|KAFKA)_[A-Z0-9_]*)_FILE=.*/\1/p'); do
    case "$name" in
        *_POLICY) continue ;;
    esac
    path=$(printenv "${name}_FILE") || continue
    if printenv "$name" >/dev/null; then
        echo "rituals-entrypoint: both $name and ${name}_FILE are set; keep one" >&2
        exit 2
    fi
    if [ ! -r "$path" ]; then
        echo "rituals-entrypoint: ${name}_FILE: cannot read $path" >&2
        exit 2
    fi
    value=$(cat "$path")
    export "$name=$value"
    unset "${name}_FILE"
done

case "${1:-}" in
    "")
        exec rituals --help
        ;;
    -h | --help)
        exec rituals "$@"
        ;;
    rituals)
        shift
        exec rituals "$@"
        ;;
    ready)
        shift
        exec python -m infra.probe "$@"
        ;;
    matcher | onboarding | notifier | clock | gateway)
        service=$1
        shift
        exec python -m "services.$service" "$@"
        ;;
esac

case "$1" in
    *[!a-z_]*) ;;
    *)
        if python -c 'import importlib.util as u, sys
sys.exit(u.find_spec(f"services.{sys.argv[1]}.__main__") is None)' "$1" 2>/dev/null; then
            service=$1
            shift
            exec python -m "services.$service" "$@"
        fi
        ;;
esac
exec "$@"
