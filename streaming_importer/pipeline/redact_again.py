"""Stored text redacted again under today's rules; only the points whose text changed re-embedded.

``python -m streaming_importer redact-again`` runs it over the whole collection
while no importer runs: each stored text passes through
:func:`~streaming_importer.sources.redact.redact` (markers already written stay
as they are); a text that changes gets, under the same id, its new text, a new
dense vector from its token ids (as the embed stage computes it) and new BM25
terms. Nothing else is embedded again. Then the collection records the rule
set (:data:`~streaming_importer.sources.redact.RULESET`), so ``status`` stops
saying the stored text predates it.
"""

from __future__ import annotations

import dataclasses
import logging
import time

from streaming_importer.embedding.bm25 import Bm25Encoder
from streaming_importer.embedding.embedder import Embedder
from streaming_importer.sources.redact import RULESET, redact
from streaming_importer.store import Point, Sink

__all__ = ["PAGE_POINTS", "Outcome", "redact_again"]

logger = logging.getLogger(__name__)

#: Points read (and at most re-embedded) at a time.
PAGE_POINTS = 256


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """What a pass did."""

    checked: int
    #: Points whose text changed, and so were embedded again.
    changed: int
    #: Secrets replaced by markers in this pass.
    secrets: int
    seconds: float


def redact_again(sink: Sink, embedder: Embedder, *, page_points: int = PAGE_POINTS) -> Outcome:
    """Re-redact every stored text; re-embed and rewrite the points that changed."""
    started = time.monotonic()
    tokenizer = embedder.tokenizer()
    encoder = Bm25Encoder()
    # Room for the model's own tokens: a marker can be longer than the secret.
    room = embedder.window - embedder.special_tokens
    checked = changed = secrets = 0
    for page in sink.pages(page_points):
        checked += len(page)
        redone: list[tuple[str, dict[str, object], str, list[int]]] = []
        for hit in page:
            text = str(hit.payload.get("text") or "")
            new, counts = redact(text)
            if new != text:
                ids = list(tokenizer.encode(new, add_special_tokens=False).ids)[:room]
                redone.append((hit.id, hit.payload, new, ids))
                secrets += sum(counts.values())
        if not redone:
            continue
        vectors = embedder.embed_ids([ids for *_, ids in redone])
        sink.upsert(
            [
                Point(
                    point_id,
                    vector,
                    {**payload, "text": new, "tokens": len(ids) + embedder.special_tokens},
                    encoder.document(new),
                )
                for (point_id, payload, new, ids), vector in zip(redone, vectors, strict=True)
            ]
        )
        changed += len(redone)
    sink.flush()
    if sink.index_due():
        sink.build_index()
    sink.record_redaction(RULESET)
    outcome = Outcome(checked, changed, secrets, time.monotonic() - started)
    logger.info(
        "redact-again: %d points checked, %d re-redacted and embedded again (%d secrets), "
        "in %.1f s; stored text now follows %s",
        outcome.checked,
        outcome.changed,
        outcome.secrets,
        outcome.seconds,
        RULESET,
    )
    return outcome
