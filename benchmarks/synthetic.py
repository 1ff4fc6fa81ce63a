"""Synthetic points shaped like ours, for the store's scale benchmark (``benchmarks/scale.py``).

The text and payload of real chunks of ``../shared/corpus`` (every message of
both Claude Code corpora, cut into pieces of at most 200 words), each copy in
its own project, session and transcript, with a unique id and path token of
its own in the text (so no two points share a text, and BM25's vocabulary
grows as a real history's does); BM25 vectors from the product's encoder.
Dense vectors: the real model's embedding of one of a few base chunks (their
first 64 words, embedded in a child process, so the model's memory is not
the benchmark's) plus noise, so that a copy is at cosine ~0.9 from its base:
a history of many similar passages, as real ones are.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streaming_importer.embedding.bm25 import Bm25Encoder  # noqa: E402
from streaming_importer.embedding.chunk import Chunk  # noqa: E402
from streaming_importer.pipeline.points import payload_for  # noqa: E402
from streaming_importer.sources.claude import parse_line  # noqa: E402
from streaming_importer.sources.files import scan  # noqa: E402
from streaming_importer.sources.messages import ParseLimits, file_context_for  # noqa: E402
from streaming_importer.store import Point, Sparse  # noqa: E402
from streaming_importer.store.base import ModelIdentity  # noqa: E402
from streaming_importer.store.edge import EdgeSink  # noqa: E402

CORPORA = [ROOT.parent / "shared" / "corpus" / n for n in ("claude-projects", "claude-projects-2")]
PIECE_WORDS = 200
#: Points between flushes, as the importer's checkpoints.
CHECKPOINT_POINTS = 1024
#: Noise added to a base vector (norm): cosine ~0.9 between a copy and its base.
NOISE = 0.5


def base_chunks() -> list[tuple[Chunk, str]]:
    """Every message of the corpora as pieces of at most PIECE_WORDS words, with its file."""
    limits = ParseLimits(20_000, 4_000)
    out: list[tuple[Chunk, str]] = []
    for corpus in CORPORA:
        for f in scan(corpus):
            context = file_context_for(f.rel_path)
            for raw in f.path.read_bytes().splitlines():
                result = parse_line(raw, context, limits)
                context = result.context
                for m in result.messages:
                    words = m.text.split()
                    for i in range(0, max(1, len(words)), PIECE_WORDS):
                        text = " ".join(words[i : i + PIECE_WORDS])
                        if text:
                            out.append((Chunk(m, i // PIECE_WORDS, text, 0), f.rel_path))
    return out


def embed(texts: list[str], folder: str) -> None:
    """The real model's vectors of ``texts`` and its identity, written to ``folder``."""
    from streaming_importer.embedding.embedder import load_embedder
    from streaming_importer.ops.config import Settings

    embedder = load_embedder(Settings.from_env({}))
    out: list[list[float]] = []
    for i in range(0, len(texts), 32):
        out.extend(embedder.embed(texts[i : i + 32]))
    np.save(Path(folder) / "out.npy", np.array(out, dtype=np.float32))
    (Path(folder) / "identity.json").write_text(json.dumps(embedder.identity.to_json()))


def embed_apart(texts: list[str]) -> tuple[np.ndarray, ModelIdentity]:
    """:func:`embed` in a child process: the model's memory is not this process's."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "in.json").write_text(json.dumps(texts))
        code = (
            "import json, sys; sys.path.insert(0, sys.argv[1]);"
            "from benchmarks.synthetic import embed;"
            "embed(json.load(open(sys.argv[2] + '/in.json')), sys.argv[2])"
        )
        subprocess.run([sys.executable, "-c", code, str(ROOT), tmp], check=True)
        identity = ModelIdentity(**json.loads((Path(tmp) / "identity.json").read_text()))
        return np.load(Path(tmp) / "out.npy"), identity


def points(
    base: list[tuple[Chunk, str]], vectors: np.ndarray, encoder: Bm25Encoder, seed: int
) -> Iterator[Point]:
    """Endless distinct points: copy after copy of ``base``, each its own sessions."""
    rng = np.random.default_rng(seed)
    sparse = [encoder.document(c.text) for c, _ in base]
    copy = 0
    while True:
        for i, ((chunk, rel_path), bm25) in enumerate(zip(base, sparse, strict=True)):
            token = f"{copy:06x}{rng.integers(1 << 30):08x}"
            extra = encoder.document(f"id-{token} src/copy{copy}/mod{token[-3:]}.py")
            terms = dict(zip(bm25.indices, bm25.values, strict=True))
            terms.update(zip(extra.indices, extra.values, strict=True))
            keys = sorted(terms)
            m = chunk.message
            session = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{copy}/{m.session_id}"))
            message = dataclasses.replace(
                m,
                session_id=session,
                project=f"{m.project or '/home/dev/x'}-{copy}",
                message_uuid=str(uuid.uuid4()),
            )
            text = f"{chunk.text} id-{token}"
            payload = payload_for(
                "local", Chunk(message, chunk.index, text, 0), f"c{copy}/{rel_path}", 0
            )
            noise = rng.standard_normal((vectors.shape[1],)).astype(np.float32)
            vector = vectors[i % len(vectors)] + NOISE * noise / np.sqrt(vectors.shape[1])
            vector /= np.linalg.norm(vector)
            yield Point(
                str(uuid.uuid4()),
                vector.tolist(),
                payload,
                Sparse(tuple(keys), tuple(terms[k] for k in keys)),
            )
        copy += 1


def write(
    batches: list[list[Point]], identity: ModelIdentity, index_points: int
) -> tuple[float, list[float]]:
    """Seconds writing ``batches`` straight through the sink into a fresh store, and each
    index build's seconds: a flush every 1,024 points, a build when one is due."""
    with tempfile.TemporaryDirectory(prefix="synthetic-") as tmp:
        sink = EdgeSink(Path(tmp), "conversations", index_points=index_points)
        sink.open(identity)
        builds: list[float] = []
        started = time.perf_counter()
        written = 0
        for batch in batches:
            sink.upsert(batch)
            written += len(batch)
            if written % CHECKPOINT_POINTS == 0:
                sink.flush()
                if sink.index_due():
                    t = time.perf_counter()
                    sink.build_index()
                    builds.append(time.perf_counter() - t)
        sink.flush()
        took = time.perf_counter() - started
        sink.close()
    return took, builds


def evict(folder: Path) -> None:
    """Drop ``folder``'s files from the page cache (they are clean once the store is closed)."""
    os.sync()
    for path in folder.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
