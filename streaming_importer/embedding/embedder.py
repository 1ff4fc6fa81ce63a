"""Texts -> vectors. An :class:`Embedder` Protocol and its FastEmbed implementation.

The model runs in this process (no worker processes: FastEmbed's
``parallel=`` is never used), called by the embed stage
(:mod:`~streaming_importer.pipeline.embed_stage`) from one worker thread so the event
loop never waits on it. Its methods are synchronous for that reason.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from streaming_importer.embedding.chunk import Tokenizer
from streaming_importer.embedding.model_folder import (
    DEFAULT_MODEL_WINDOW,
    MULTILINGUAL,
    MULTILINGUAL_WINDOW,
    VARIANTS,
    ensure_model,
    is_built,
)
from streaming_importer.errors import ConfigError, ModelError
from streaming_importer.ops import memory
from streaming_importer.ops.config import DEFAULT_MODEL, Settings
from streaming_importer.store.base import ModelIdentity

__all__ = [
    "DEFAULT_VARIANT",
    "E5_PREFIXES",
    "Embedder",
    "FastEmbedEmbedder",
    "load_embedder",
    "local_variant",
    "model_problem",
    "shipped_identity",
]

logger = logging.getLogger(__name__)


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

    def embed_ids(self, sequences: Sequence[Sequence[int]]) -> list[list[float]]:
        """Like :meth:`embed`, for texts already tokenized by :meth:`tokenizer`.

        ``sequences`` hold content token ids, without special tokens; the
        batch is padded to its longest sequence. Blocking.
        """
        ...


class FastEmbedEmbedder:
    """A FastEmbed ``TextEmbedding`` model."""

    def __init__(
        self,
        model: Any,
        identity: ModelIdentity,
        window: int,
        *,
        query_prefix: str = "",
        passage_prefix: str = "",
    ) -> None:
        """``query_prefix`` and ``passage_prefix``: what models like E5 expect before
        a query (:meth:`embed`) and a passage (:meth:`embed_ids`)."""
        self._model = model
        self._identity = identity
        self._window = window
        self._query_prefix = query_prefix
        inner = model.model
        self._tokenizer_json: str = inner.tokenizer.to_str()
        tokenizer = self.tokenizer()
        self._prefix, self._suffix = _special_ids(tokenizer)
        if passage_prefix:
            # After the model's own start token: "<s> passage: ...".
            self._prefix += list(tokenizer.encode(passage_prefix, add_special_tokens=False).ids)
        self._special = len(self._prefix) + len(self._suffix)
        padding = inner.tokenizer.padding or {}
        self._pad_id = int(padding.get("pad_id", 0))
        self._input_names = {node.name for node in inner.model.get_inputs()}

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
        queries = [self._query_prefix + t for t in texts]
        vectors = self._model.embed(queries, batch_size=len(queries))
        return [v.tolist() for v in vectors]

    def embed_ids(self, sequences: Sequence[Sequence[int]]) -> list[list[float]]:
        # FastEmbed's own steps after its tokenizer (fastembed 0.9.1, pinned):
        # the same inputs, session and pooling, minus the second tokenization.
        from fastembed.common.onnx_model import OnnxOutputContext

        if not sequences:
            return []
        inner = self._model.model
        width = max(len(s) for s in sequences) + len(self._prefix) + len(self._suffix)
        ids = np.full((len(sequences), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(sequences), width), dtype=np.int64)
        for row, seq in enumerate(sequences):
            full = [*self._prefix, *seq, *self._suffix]
            ids[row, : len(full)] = full
            mask[row, : len(full)] = 1
        onnx_input: dict[str, Any] = {"input_ids": ids}
        if "attention_mask" in self._input_names:
            onnx_input["attention_mask"] = mask
        if "token_type_ids" in self._input_names:
            onnx_input["token_type_ids"] = np.zeros_like(ids)
        onnx_input = inner._preprocess_onnx_input(onnx_input)
        output = inner.model.run(inner.ONNX_OUTPUT_NAMES, onnx_input)[0]
        vectors = inner._post_process_onnx_output(
            OnnxOutputContext(model_output=output, attention_mask=mask, input_ids=ids)
        )
        return [v.tolist() for v in vectors]


def _special_ids(tokenizer: Tokenizer) -> tuple[list[int], list[int]]:
    """The ids a model's tokenizer puts before and after every text."""
    plain = list(tokenizer.encode("a", add_special_tokens=False).ids)
    full = list(tokenizer.encode("a", add_special_tokens=True).ids)
    for k in range(len(full) - len(plain) + 1):
        if full[k : k + len(plain)] == plain:
            return full[:k], full[k + len(plain) :]
    raise ModelError("cannot tell the tokenizer's special tokens apart from a text's")


#: What ``EMBEDDING_MODEL``'s default name means: the faster of the two shipped
#: files on the project's machine (benchmarks/models.py; see docs/how-it-works.md).
DEFAULT_VARIANT = "all-MiniLM-L6-v2-fp32"


#: E5's instructions: a query and a passage are embedded with these prefixes.
E5_PREFIXES = {"query_prefix": "query: ", "passage_prefix": "passage: "}
_E5_FASTEMBED_NAME = "intfloat/multilingual-e5-small"


def _register_e5() -> None:
    """Tell FastEmbed how to run multilingual-e5-small (mean pooling, normalised)."""
    from fastembed import TextEmbedding
    from fastembed.common.model_description import ModelSource, PoolingType

    if any(m["model"] == _E5_FASTEMBED_NAME for m in TextEmbedding.list_supported_models()):
        return
    TextEmbedding.add_custom_model(
        model=_E5_FASTEMBED_NAME,
        pooling=PoolingType.MEAN,
        normalization=True,
        sources=ModelSource(hf=_E5_FASTEMBED_NAME),
        dim=384,
        model_file="model.onnx",
    )


def shipped_identity(variant: str, digest: str) -> ModelIdentity:
    """The identity of a shipped model folder whose ONNX file has sha256 ``digest``."""
    return ModelIdentity(name=variant, dim=384, fingerprint=f"sha256:{digest}")


def local_variant(name: str) -> str | None:
    """The shipped model folder an ``EMBEDDING_MODEL`` value names, or None (FastEmbed's)."""
    if name == DEFAULT_MODEL:
        return DEFAULT_VARIANT
    return name if name in VARIANTS else None


def model_problem(models_dir: Path, variant: str) -> str | None:
    """What is wrong with a shipped model's folder (not built, file not as pinned), or None."""
    target = models_dir / variant / "model.onnx"
    if not is_built(models_dir, variant):
        return f"the model {variant} is not assembled in {models_dir}"
    pinned = ensure_model(models_dir, variant)[1]  # built: only read, never built here
    if not target.is_file():
        return f"{target} is missing"
    with target.open("rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    return None if digest == pinned else f"{target} has sha256 {digest}, pinned {pinned}"


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
    variant = local_variant(settings.embedding_model)
    if variant is not None and not is_built(settings.models_dir, variant):
        # A first start builds the folder: the build's buffers go back to the
        # OS before the model is loaded and memory is judged.
        ensure_model(settings.models_dir, variant)
        memory.trim()
    prefixes: dict[str, str] = {}
    try:
        if variant == MULTILINGUAL:
            folder, digest = ensure_model(settings.models_dir, variant)
            _register_e5()
            model = TextEmbedding(
                _E5_FASTEMBED_NAME,
                specific_model_path=str(folder),
                cache_dir=str(settings.models_dir),
                **kwargs,
            )
            identity = shipped_identity(variant, digest)
            window = MULTILINGUAL_WINDOW
            prefixes = E5_PREFIXES
        elif variant is not None:
            folder, digest = ensure_model(settings.models_dir, variant)
            model = TextEmbedding(
                DEFAULT_MODEL,
                specific_model_path=str(folder),
                cache_dir=str(settings.models_dir),
                **kwargs,
            )
            identity = shipped_identity(variant, digest)
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
        where = f" from {settings.models_dir / variant}" if variant is not None else ""
        raise ModelError(
            f"cannot load embedding model {settings.embedding_model!r}{where}: {e}"
        ) from e
    if settings.chunk_max_tokens > window:
        raise ConfigError(
            f"CHUNK_MAX_TOKENS={settings.chunk_max_tokens} is larger than the window of "
            f"{settings.embedding_model} ({window} tokens): the model would drop the rest"
        )
    logger.info(
        "embedding model %s loaded (%d dims, window %d)", identity.name, identity.dim, window
    )
    return FastEmbedEmbedder(model, identity, window, **prefixes)
