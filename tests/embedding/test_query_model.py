"""A one-shot search's query model gives FastEmbed's vectors without importing FastEmbed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from streaming_importer.embedding.embedder import FastEmbedEmbedder
from streaming_importer.embedding.query_model import load_query_model

from ..conftest import DEMO, ROOT, settings_for

QUERIES = [
    "how did we fix the webhook retry",
    "x",
    "Ünïcødé, emoji ✓ and 中文 in one query",
    "why " * 400,  # longer than the model's window: cut as FastEmbed cuts it
]


def test_the_query_model_gives_fastembeds_vectors_and_identity(
    model_state: Path, embedder: FastEmbedEmbedder
) -> None:
    model = load_query_model(settings_for(DEMO, model_state))
    assert model is not None and model.identity == embedder.identity
    ours, theirs = np.array(model.embed(QUERIES)), np.array(embedder.embed(QUERIES))
    assert ours.shape == (4, 384)
    assert np.abs(ours - theirs).max() < 1e-5


def test_a_model_fastembed_names_or_an_unbuilt_folder_goes_to_fastembed(tmp_path: Path) -> None:
    other = settings_for(DEMO, tmp_path, EMBEDDING_MODEL="BAAI/bge-small-en-v1.5")
    assert load_query_model(other) is None
    assert load_query_model(settings_for(DEMO, tmp_path)) is None  # not assembled there


def test_loading_it_imports_no_fastembed(model_state: Path, embedder: FastEmbedEmbedder) -> None:
    code = (
        "import sys; from streaming_importer.embedding.query_model import load_query_model;"
        "from streaming_importer.ops.config import Settings;"
        "m = load_query_model(Settings.from_env({'STATE_DIR': sys.argv[1]}));"
        "m.embed(['a query']); print(sorted(n for n in sys.modules if n.startswith('fastembed')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(model_state)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]"
