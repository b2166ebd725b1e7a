# nginx in front of the services (compose.yaml's `front` profile): serves the sparse index and the crate
# files straight from the registry volume and proxies the rest (web API, git index) to the services.
# Build context: the repository root (as compose.yaml gives it).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services
RUN pip install . && rm -rf /src

RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home palletizer \
    && mkdir /data && chown palletizer:palletizer /data

USER palletizer
WORKDIR /data
ENV PALLETIZER_DATA=/data \
    PALLETIZER_LISTEN=0.0.0.0:8000
EXPOSE 8000
CMD ["palletizer-front"]
