# relupde: the REST API (`relupde serve`), and with another command the Dask scheduler
# (`dask scheduler`) and workers (`relupde worker`); docker-compose.yml runs all three.
#
#   docker build -t relupde .
#   docker run --init -p 8000:8000 -e RELUPDE_API_KEYS=tenant:key relupde
#
# Run it with an init process (`--init`, or `init: true` in compose) so that signals reach
# the Python processes and the Dask nanny's children are reaped.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The CPU build of torch from the official CPU index, installed before the project so that
# resolving the project's dependencies finds torch satisfied and never pulls a multi-GB CUDA
# build.  The pin is the Makefile's TORCH, so the image trains with the torch that `make test`
# tested (tests/service/test_compose.py keeps the two equal); `--build-arg TORCH=...` overrides.
ARG TORCH=torch==2.13.0
RUN pip install --index-url https://download.pytorch.org/whl/cpu "${TORCH}"

# The project itself (a regular, non-editable install into site-packages); its
# dependencies include the service's: distributed, sqlalchemy, psycopg[binary], prometheus-client.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY models ./models
COPY solver ./solver
COPY service ./service
RUN pip install "." \
    && rm -rf /src/build /src/*.egg-info

# The example specs the dashboard offers (GET /v1/examples).
COPY examples /opt/relupde/examples
ENV RELUPDE_EXAMPLES_DIR=/opt/relupde/examples

# A non-root user.  /data belongs to it: a named volume mounted there starts as a copy of
# this directory, ownership included, so the user can write models and checkpoints to it.
RUN useradd --create-home --uid 10001 --user-group relupde \
    && mkdir -p /data \
    && chown relupde:relupde /data
ENV RELUPDE_DATA_DIR=/data
USER relupde
WORKDIR /home/relupde

EXPOSE 8000

# The api's check (docker-compose.yml gives the scheduler and the workers their own).  No curl
# in the slim image: python asks /healthz; urlopen raises (exit 1) on anything but 2xx.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

CMD ["relupde", "serve", "--host", "0.0.0.0", "--port", "8000"]
