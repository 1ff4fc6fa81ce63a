"""streaming_importer: make Claude Code conversation history searchable.

Tails the JSONL transcripts Claude Code writes under ``~/.claude/projects``,
cuts them into chunks that fit the embedding model's window, embeds them
in-process and upserts them into Qdrant.
"""

from __future__ import annotations

__version__ = "0.1.0"
