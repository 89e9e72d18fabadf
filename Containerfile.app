# The Streamlit app (`python -m retention.app`, shipped in the `retention` module's wheel), as a
# non-root user. scripts/container.sh app builds it: the base of Containerfile, Debian's
# python3, and the module's wheel built by maturin on the host (abi3, any CPython >= 3.9).
#
#   podman build --format docker --network host -f Containerfile.app -t retentionai-app:0.1.0 CONTEXT
ARG BASE=localhost/retentionai-base:bookworm
FROM ${BASE}

RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 retention \
 && useradd --system --uid 10001 --gid retention --home-dir /var/lib/retentionai \
      --no-create-home --shell /usr/sbin/nologin retention \
 && mkdir -p /var/lib/retentionai /opt/retentionai/data \
 && chown retention:retention /var/lib/retentionai

COPY wheels/ /tmp/wheels/
COPY requirements-app.txt /tmp/requirements-app.txt
# The build host's CA bundle, for networks whose proxy re-signs TLS (used for this step only).
COPY build-ca.crt /tmp/build-ca.crt
RUN python3 -m venv /opt/retentionai/venv \
 && cert="" && if [ -s /tmp/build-ca.crt ]; then cert="--cert /tmp/build-ca.crt"; fi \
 && /opt/retentionai/venv/bin/pip install --quiet --no-cache-dir $cert -r /tmp/requirements-app.txt /tmp/wheels/*.whl \
 && rm -rf /tmp/wheels /tmp/requirements-app.txt /tmp/build-ca.crt

COPY telco_customer_churn.csv /opt/retentionai/data/telco_customer_churn.csv

ENV RETENTIONAI_DB=/var/lib/retentionai/retentionai.db \
    RETENTIONAI_DATA=/opt/retentionai/data/telco_customer_churn.csv \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    HOME=/var/lib/retentionai
VOLUME ["/var/lib/retentionai"]
USER 10001:10001
WORKDIR /var/lib/retentionai
EXPOSE 8502

HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8502 && printf 'GET /_stcore/health HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]

ENTRYPOINT ["/opt/retentionai/venv/bin/python", "-m", "retention.app", \
            "--server.port", "8502", "--server.address", "0.0.0.0", "--server.headless", "true"]
