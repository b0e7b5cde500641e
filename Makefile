# The two commands a newcomer needs: `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q --disable-pip-version-check
PACKAGES := -p aecodec_wire -p aecodec_service -p aecodec_training -p aecodec_sdk

.PHONY: serve test lint install install-serve proto clean

# pip >= 25.1 reads the root pyproject's dependency groups (`--group dev`).
$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip

# Serving needs no torch: the wire package and the service (onnxruntime, onnx, FastAPI, Pillow, numpy, protobuf).
install-serve: $(PY)
	$(PIP) -e ./proto -e ./service

# Everything: torch first, pinned to the CPU/CUDA build on hand, so nothing pulls another; then the four
# distributions and the development tools. (An older venv may hold the former single `aecodec` distribution.)
install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml proto/pyproject.toml service/pyproject.toml training/pyproject.toml \
		clients/sdk/pyproject.toml | $(PY)
	$(PIP) torch==2.13.0
	$(PY) -m pip uninstall -q -y aecodec 2>/dev/null || true
	$(PIP) -e ./proto -e ./service -e ./training -e ./clients/sdk --group dev
	touch $@

serve: install-serve
	$(PY) -m aecodec_service

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy $(PACKAGES)

# What CI runs (.ci/run): lint, formatting, types, then the test suite.
test: lint
	$(PY) -m pytest

# Regenerate the protobuf code after editing proto/aecodec_wire/v1/*.proto.
proto: install
	$(PY) -m grpc_tools.protoc -I proto --python_out=proto --pyi_out=proto proto/aecodec_wire/v1/*.proto

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
