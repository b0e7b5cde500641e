# syntax=docker/dockerfile:1
# Training image: torch (its CUDA libraries come with the wheel), the training CLI and ONNX export.
# Build from the repository root:  docker build -f docker/train.Dockerfile -t aecodec-train .
ARG CUDA_IMAGE=nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04

FROM ${CUDA_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# torch first and pinned, as in `make install`, so nothing else pulls another build of it.
RUN pip install torch==2.13.0
WORKDIR /src
COPY proto/ proto/
COPY training/ training/
RUN pip install ./proto ./training && python -c "import torch, aecodec_training"
# Run from /app: data is mounted at /app/data, runs and exported models land in /app/runs, /app/models.
WORKDIR /app
ENTRYPOINT ["aecodec-train"]
CMD ["--help"]
