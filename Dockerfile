# syntax=docker/dockerfile:1
# One image for every part of Rituals: the services, the clock and the `rituals` CLI.
#
#   docker build -t rituals .
#   docker run --rm rituals matcher            # python -m services.matcher (likewise onboarding,
#   docker run --rm rituals notifier           #   notifier, clock, or any services.<name>)
#   docker run --rm -p 8080:8080 rituals gateway   # the HTTP surface (SCIM, read API) on 8080
#   docker run --rm rituals rituals topics provision   # the CLI (`rituals --help` by default)
#   docker run --rm rituals ready              # readiness probe of a running service
#
# Settings come from the environment (docs/operations.md); VAR_FILE=/path sets VAR from a file.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: a virtual environment with Rituals and its dependencies ------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# The venv gets no pip of its own: the base image's pip installs into it, and stays behind.
RUN python -m venv --without-pip /opt/venv
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY infra ./infra
COPY services ./services
RUN pip --python /opt/venv/bin/python install --no-cache-dir . \
    && /opt/venv/bin/python -m compileall -q /opt/venv/lib

# --- final: the interpreter, the venv and a non-root user; no compiler, no pip in the venv ---
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="rituals" \
      org.opencontainers.image.description="Rituals services, clock and CLI" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RITUALS_LOG_FORMAT=json \
    RITUALS_METRICS_PORT=9100 \
    RITUALS_GATEWAY_HOST=0.0.0.0
RUN groupadd --system --gid 10001 rituals \
    && useradd --system --uid 10001 --gid rituals --home-dir /var/lib/rituals --create-home \
       --shell /usr/sbin/nologin rituals
COPY --from=builder /opt/venv /opt/venv
COPY --chmod=0755 infra/docker/entrypoint.sh /usr/local/bin/rituals-entrypoint
WORKDIR /var/lib/rituals
USER 10001:10001
EXPOSE 9100 8080
ENTRYPOINT ["/usr/local/bin/rituals-entrypoint"]
CMD ["rituals", "--help"]
