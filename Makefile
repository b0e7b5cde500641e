# The two commands a newcomer needs: `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q --disable-pip-version-check

.PHONY: serve test lint install install-serve proto clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip

# Serving needs no torch: onnxruntime, FastAPI, Pillow, numpy, protobuf.
install-serve: $(PY)
	$(PIP) -e ./proto -e '.[serve]'

# Everything: torch first, pinned to the CPU/CUDA build on hand, so nothing pulls another.
install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml proto/pyproject.toml clients/sdk/pyproject.toml | $(PY)
	$(PIP) torch==2.13.0
	$(PIP) -e ./proto -e ./clients/sdk -e '.[serve,train,dev]'
	touch $@

serve: install-serve
	$(PY) -m aecodec_service

test: install
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy -p aecodec_wire -p aecodec_service -p aecodec_training -p aecodec_sdk

# Regenerate the protobuf code after editing proto/aecodec_wire/v1/*.proto.
proto: install
	$(PY) -m grpc_tools.protoc -I proto --python_out=proto --pyi_out=proto proto/aecodec_wire/v1/*.proto

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
