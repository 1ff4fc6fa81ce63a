"""Texts -> vectors. An :class:`Embedder` Protocol and its FastEmbed implementation.

The model runs in this process (no worker processes: FastEmbed's
``parallel=`` is never used), called by the lifecycle from one worker thread
so the event loop never waits on it. Its methods are synchronous for that
reason.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from streaming_importer.chunk import Tokenizer
from streaming_importer.config import DEFAULT_MODEL, Settings
from streaming_importer.errors import ConfigError, ModelError
from streaming_importer.model_folder import (
    DEFAULT_MODEL_WINDOW,
    ONNX_SHA256,
    ensure_default_model,
)

__all__ = ["Embedder", "FastEmbedEmbedder", "ModelIdentity", "load_embedder"]

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class ModelIdentity:
    """What a collection's vectors were made with; vectors of two identities never mix."""

    name: str
    dim: int
    #: The model file's hash where known, else the name.
    fingerprint: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Embedder(Protocol):
    """A text embedding model and the tokenizer that measures its input."""

    @property
    def identity(self) -> ModelIdentity: ...

    @property
    def window(self) -> int:
        """Most tokens the model reads, special tokens included."""
        ...

    @property
    def special_tokens(self) -> int:
        """Tokens the model adds around every text."""
        ...

    def tokenizer(self) -> Tokenizer:
        """A tokenizer with truncation and padding off, for cutting chunks."""
        ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One normalised vector per text, as one model call. Blocking."""
        ...


class FastEmbedEmbedder:
    """A FastEmbed ``TextEmbedding`` model."""

    def __init__(self, model: Any, identity: ModelIdentity, window: int) -> None:
        self._model = model
        self._identity = identity
        self._window = window
        self._tokenizer_json: str = model.model.tokenizer.to_str()
        self._special = int(model.model.tokenizer.num_special_tokens_to_add(False))

    @property
    def identity(self) -> ModelIdentity:
        return self._identity

    @property
    def window(self) -> int:
        return self._window

    @property
    def special_tokens(self) -> int:
        return self._special

    def tokenizer(self) -> Tokenizer:
        from tokenizers import Tokenizer as HFTokenizer

        tokenizer = HFTokenizer.from_str(self._tokenizer_json)
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return tokenizer

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._model.embed(list(texts), batch_size=len(texts))
        return [v.tolist() for v in vectors]


def load_embedder(settings: Settings) -> FastEmbedEmbedder:
    """Load the configured model; the default one is assembled offline first.

    Raises ModelError if the model cannot be loaded, ConfigError if the chunk
    size does not fit its window.
    """
    from fastembed import TextEmbedding

    model: Any
    kwargs: dict[str, Any] = {
        "lazy_load": False,
        "enable_cpu_mem_arena": settings.embed_cpu_arena,
    }
    if settings.embed_threads:
        kwargs["threads"] = settings.embed_threads
    try:
        if settings.embedding_model == DEFAULT_MODEL:
            folder = ensure_default_model(settings.models_dir)
            model = TextEmbedding(
                DEFAULT_MODEL,
                specific_model_path=str(folder),
                cache_dir=str(settings.models_dir),
                **kwargs,
            )
            identity = ModelIdentity(
                name=f"{DEFAULT_MODEL} (int8)", dim=384, fingerprint=f"sha256:{ONNX_SHA256}"
            )
            window = DEFAULT_MODEL_WINDOW
        else:
            model = TextEmbedding(
                settings.embedding_model,
                cache_dir=str(Path(settings.models_dir) / "fastembed"),
                **kwargs,
            )
            dim = int(model.embedding_size)
            identity = ModelIdentity(
                name=settings.embedding_model, dim=dim, fingerprint=settings.embedding_model
            )
            truncation = model.model.tokenizer.truncation or {}
            window = int(truncation.get("max_length", 512))
    except ModelError:
        raise
    except Exception as e:  # FastEmbed raises anything, from a hub miss to a bad file
        raise ModelError(f"cannot load embedding model {settings.embedding_model!r}: {e}") from e
    if settings.chunk_max_tokens > window:
        raise ConfigError(
            f"CHUNK_MAX_TOKENS={settings.chunk_max_tokens} is larger than the window of "
            f"{settings.embedding_model} ({window} tokens): the model would drop the rest"
        )
    logger.info(
        "embedding model %s loaded (%d dims, window %d)", identity.name, identity.dim, window
    )
    return FastEmbedEmbedder(model, identity, window)
