# One image for every process of Palletizer: the services palletizer-api, palletizer-index and
# palletizer-files (compose.yaml runs one of each), palletizer-all, and the palletizer CLI.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services
RUN pip install . && rm -rf /src

COPY docker/entrypoint.sh /usr/local/bin/palletizer-entrypoint
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home palletizer \
    && mkdir /data && chown palletizer:palletizer /data

USER palletizer
WORKDIR /data
ENV PALLETIZER_DATA=/data \
    PALLETIZER_LISTEN=0.0.0.0:8000
VOLUME /data
EXPOSE 8000
ENTRYPOINT ["palletizer-entrypoint"]
CMD ["palletizer-all"]
