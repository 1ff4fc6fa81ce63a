"""The model for a one-shot search's query, without importing FastEmbed.

A ``search`` run with no importer starts a process, loads the model, opens
the store, asks and closes: measured on this project's 2-core machine,
importing FastEmbed alone takes about 0.55 s of it (it imports
huggingface_hub, its image models, rich, PIL). A query needs none of that:
the model folder's ONNX graph, its tokenizer, and FastEmbed's pooling for
these models (the mean of the last hidden state over the attention mask,
L2-normalised; fastembed 0.9.1, pinned). So for the shipped, already
assembled model folders, :func:`load_query_model` does those steps itself;
``tests/embedding/test_query_model.py`` checks its vectors against
FastEmbed's. Anything else (a FastEmbed model by name, a folder not yet
assembled) goes through :func:`~streaming_importer.embedding.embedder.load_embedder`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from streaming_importer.embedding.embedder import E5_PREFIXES, local_variant, shipped_identity
from streaming_importer.embedding.model_folder import (
    DEFAULT_MODEL_WINDOW,
    MULTILINGUAL,
    MULTILINGUAL_WINDOW,
    ensure_model,
    is_built,
)
from streaming_importer.errors import ModelError
from streaming_importer.ops.config import Settings
from streaming_importer.store.base import ModelIdentity

__all__ = ["QueryModel", "load_query_model"]


class QueryModel:
    """Embeds queries with a shipped model folder's ONNX graph and tokenizer."""

    def __init__(
        self, folder: Path, identity: ModelIdentity, window: int, *, query_prefix: str = ""
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self._identity = identity
        self._prefix = query_prefix
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=window)
        self._tokenizer.no_padding()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session = ort.InferenceSession(
                str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # ONNX Runtime raises its own classes, unexported
            raise ModelError(f"cannot load the model in {folder}: {e}") from e
        self._inputs = {node.name for node in self._session.get_inputs()}

    @property
    def identity(self) -> ModelIdentity:
        return self._identity

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit vectors of ``texts``, one query at a time (no padding to agree on)."""
        out = []
        for text in texts:
            encoding = self._tokenizer.encode(self._prefix + text)
            ids = np.array([encoding.ids], dtype=np.int64)
            mask = np.array([encoding.attention_mask], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            hidden = self._session.run(None, feed)[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            norm = np.linalg.norm(pooled, axis=1, keepdims=True)
            out.append((pooled / np.clip(norm, 1e-12, None))[0].tolist())
        return out


def load_query_model(settings: Settings) -> QueryModel | None:
    """The configured model's query side, or None where FastEmbed must load it.

    Raises ModelError if the folder's model cannot be read.
    """
    variant = local_variant(settings.embedding_model)
    if variant is None or not is_built(settings.models_dir, variant):
        return None
    folder, digest = ensure_model(settings.models_dir, variant)
    identity = shipped_identity(variant, digest)
    if variant == MULTILINGUAL:
        return QueryModel(
            folder, identity, MULTILINGUAL_WINDOW, query_prefix=E5_PREFIXES["query_prefix"]
        )
    return QueryModel(folder, identity, DEFAULT_MODEL_WINDOW)
