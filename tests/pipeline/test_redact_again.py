"""The rule set is recorded with the stored text; ``redact-again`` brings older text up to it.

Through the real program: text stored without today's rules (here: with
redaction off, as if an older rule set had missed every secret) is named by
``status``; ``redact-again`` replaces the secrets, embeds again exactly the
points whose text changed, and records the rule set.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from streaming_importer.sources.redact import RULESET
from streaming_importer.store.edge import EdgeSink

from ..conftest import run_cli
from ..sources.test_redact import ORDINARY, SECRETS, table_transcript

OLD_RULES = "detect-secrets 1.4.0; own rules 0"


def vectors_and_texts(state: Path) -> dict[str, tuple[list[float], str]]:
    """Every point's dense vector and text, read from the store itself."""
    sink = EdgeSink(state / "qdrant", "conversations")
    sink.open(None, create=False)
    try:
        shard: Any = sink._shard  # a look inside a seam we own, for tests only
        out: dict[str, tuple[list[float], str]] = {}
        offset = None
        while True:
            records, offset = shard.scroll(
                qe.ScrollRequest(offset=offset, limit=500, with_payload=True, with_vector=True)
            )
            for r in records:
                out[str(r.id)] = (list(r.vector["dense"]), r.payload["text"])
            if offset is None:
                return out
    finally:
        sink.close()


def record(state: Path, rules: str) -> None:
    sink = EdgeSink(state / "qdrant", "conversations")
    sink.open(None, create=False)
    try:
        sink.record_redaction(rules)
    finally:
        sink.close()


def status(env: dict[str, str]) -> dict[str, Any]:
    out = run_cli("status", "--json", env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    return dict(json.loads(out.stdout)["redaction"])


def test_a_new_store_records_the_rule_set(tmp_path: Path) -> None:
    table_transcript(tmp_path / "conversations")
    env = {"CONVERSATIONS_DIR": str(tmp_path / "conversations"), "STATE_DIR": str(tmp_path / "s")}
    assert run_cli("--once", env=env).returncode == 0
    assert status(env) == {"rules": RULESET, "stored": RULESET, "current": True, "note": None}


def test_redact_again_replaces_what_older_rules_missed_and_embeds_only_that(
    tmp_path: Path,
) -> None:
    table_transcript(tmp_path / "conversations")
    state = tmp_path / "state"
    env = {"CONVERSATIONS_DIR": str(tmp_path / "conversations"), "STATE_DIR": str(state)}
    out = run_cli("--once", env={**env, "REDACT_SECRETS": "false"})
    assert out.returncode == 0, out.stderr[-2000:]
    record(state, OLD_RULES)
    before = vectors_and_texts(state)
    leaked = {i for i, (_, text) in before.items() if any(s in text for _, s in SECRETS)}
    assert len(leaked) >= len(SECRETS) - 2  # (a chunk may hold two short forms)

    stale = status(env)
    assert stale["current"] is False and stale["stored"] == OLD_RULES
    assert "redact-again" in stale["note"]
    shown = run_cli("status", env=env)
    assert "stored text predates the redaction rules" in shown.stdout

    again = run_cli("redact-again", env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"{len(before)} points checked, {len(leaked)} re-redacted" in again.stdout

    after = vectors_and_texts(state)
    assert set(after) == set(before)
    texts = "\n".join(text for _, text in after.values())
    assert [secret for _, secret in SECRETS if secret in texts] == []
    assert [text for text in ORDINARY if text not in texts] == []
    # Only the points whose text changed were embedded again.
    for point_id, (vector, text) in after.items():
        if point_id in leaked:
            assert vector != before[point_id][0] and text != before[point_id][1]
        else:
            assert (vector, text) == before[point_id]
    assert status(env)["current"] is True
    # A second pass finds nothing left to do.
    assert f"{len(before)} points checked, 0 re-redacted" in run_cli("redact-again", env=env).stdout
