# The labeling app and its background workers in one image (the same image runs `streamlit run app.py`,
# `gtcore worker` and `gtcore migrate`). Build: docker build -t gtcore . ; see deploy/README.md.
# Nothing is downloaded at build time but Python packages from the package registry.
FROM python:3.11-slim-bookworm

ARG GT_EXTRAS=postgres
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GT_HOME=/var/lib/gtcore \
    GT_EMBEDDED_WORKER=0 \
    STREAMLIT_SERVER_HEADLESS=true \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false

WORKDIR /app
RUN groupadd --system --gid 10001 gt \
    && useradd --system --uid 10001 --gid gt --home-dir /var/lib/gtcore --shell /usr/sbin/nologin gt \
    && mkdir -p /var/lib/gtcore \
    && chown gt:gt /var/lib/gtcore

COPY pyproject.toml README.md ./
COPY gtcore ./gtcore
# DL3013: this installs the project itself; its dependencies carry their bounds in pyproject.toml
# hadolint ignore=DL3013
RUN pip install --no-cache-dir ".[${GT_EXTRAS}]"
COPY app.py ./
COPY pages ./pages
COPY .streamlit ./.streamlit

USER 10001:10001
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).status == 200 else 1)"]
CMD ["streamlit", "run", "app.py", "--server.address=0.0.0.0", "--server.port=8501"]
