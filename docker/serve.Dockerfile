# syntax=docker/dockerfile:1
# Serving image: FastAPI + onnxruntime-gpu, and no torch (the models are ONNX files mounted at /models).
# Build from the repository root:  docker build -f docker/serve.Dockerfile -t aecodec-serve .
# onnxruntime-gpu 1.31 is built against CUDA 13 and cuDNN 9: keep the base image in step with it.
ARG CUDA_IMAGE=nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04

FROM ${CUDA_IMAGE} AS build
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY proto/ proto/
COPY service/ service/
# The same installs as `make install-serve`, not editable; then prove torch stayed out.
RUN pip install ./proto ./service \
    && python -c "import aecodec_service, onnxruntime" \
    && ! python -c "import torch" 2>/dev/null

FROM ${CUDA_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home aecodec
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    AECODEC_HOST=0.0.0.0 \
    AECODEC_PORT=8000 \
    AECODEC_MODEL_DIR=/models
USER aecodec
WORKDIR /srv
EXPOSE 8000
# Ready means the models are loaded: /readyz answers 503 until then.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('AECODEC_PORT', '8000'), timeout=2)"]
# What `make serve` runs.
CMD ["python", "-m", "aecodec_service"]
