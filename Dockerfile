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
COPY streaming_importer ./streaming_importer
RUN pip install . \
    # Assemble the default model once, into the image (MODELS_DIR).
    && python -c "from pathlib import Path; from streaming_importer.model_folder import ensure_default_model; ensure_default_model(Path('/opt/models'))"

VOLUME ["/state"]
ENTRYPOINT ["python", "-m", "streaming_importer"]
