"""What expand and the page show of a transcript: never what the importer would not store.

An excluded Gemini chat and a forgotten Codex project stay hidden when read
from the middle of the file (a hit, a page), through the functions the page's
API calls and through MCP ``expand``, as they are when imported.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from streaming_importer.ops.config import Settings
from streaming_importer.search.browse import page
from streaming_importer.search.expand import messages_around
from streaming_importer.state import checkpoint as ckpt
from streaming_importer.state.privacy import Tombstones
from streaming_importer.surfaces.mcp import Backend

from ..conftest import OTHER_AGENTS

GEMINI_CHAT = "gemini:playground/chats/session-2026-04-28T15-09-887ba529.jsonl"
#: Its project, known only from projects.json (the folder is the slug "playground").
GEMINI_PROJECT = "/home/core/playground"
CODEX_ROLLOUT = (
    "codex:2026/05/11/rollout-2026-05-11T11-26-55-019e1625-789d-76c0-80ab-3724b5ddb799.jsonl"
)
#: Its project, named only by its first line (session_meta).
CODEX_PROJECT = "/Users/Sample_User/repos/codemie-ai/codemie-code"


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, str]:
    shutil.copytree(OTHER_AGENTS / "codex", tmp_path / "codex")
    shutil.copytree(OTHER_AGENTS / "gemini-2", tmp_path / "gemini")
    return {
        "SOURCES": "codex,gemini",
        "CODEX_HOME": str(tmp_path / "codex"),
        "GEMINI_DIR": str(tmp_path / "gemini"),
        "STATE_DIR": str(tmp_path / "state"),
    }


def middle_of_codex(env: dict[str, str]) -> int:
    """The offset of a line well past the rollout's session_meta."""
    path = Path(env["CODEX_HOME"], "sessions", CODEX_ROLLOUT.removeprefix("codex:"))
    lines = path.read_bytes().split(b"\n")
    return sum(len(line) + 1 for line in lines[:40])


def test_an_excluded_gemini_chat_is_not_shown(folders: dict[str, str]) -> None:
    shown = Settings.from_env(folders)
    assert page(shown, Tombstones(), GEMINI_CHAT, 0, 50)["messages"]  # it has messages
    assert messages_around(shown, Tombstones(), GEMINI_CHAT, 0, 3, 3, turn=1)

    excluded = Settings.from_env({**folders, "EXCLUDE_PROJECTS": GEMINI_PROJECT})
    assert page(excluded, Tombstones(), GEMINI_CHAT, 0, 50)["messages"] == []
    assert messages_around(excluded, Tombstones(), GEMINI_CHAT, 0, 3, 3, turn=1) == []


def test_a_forgotten_codex_project_is_not_shown_from_the_middle_of_a_rollout(
    folders: dict[str, str],
) -> None:
    settings = Settings.from_env(folders)
    offset = middle_of_codex(folders)
    assert page(settings, Tombstones(), CODEX_ROLLOUT, offset, 50)["messages"]
    assert messages_around(settings, Tombstones(), CODEX_ROLLOUT, offset, 3, 3)

    forgotten = Tombstones(set(), {CODEX_PROJECT})
    assert page(settings, forgotten, CODEX_ROLLOUT, offset, 50)["messages"] == []
    assert messages_around(settings, forgotten, CODEX_ROLLOUT, offset, 3, 3) == []
    # By its last folder name too, as forget --project takes it.
    by_name = Tombstones(set(), {"codemie-code"})
    assert page(settings, by_name, CODEX_ROLLOUT, offset, 50)["messages"] == []


def test_mcp_expand_hides_both(folders: dict[str, str]) -> None:
    settings = Settings.from_env({**folders, "EXCLUDE_PROJECTS": GEMINI_PROJECT})
    state = ckpt.Checkpoint()
    state.forgotten.add_project(CODEX_PROJECT)
    Path(folders["STATE_DIR"]).mkdir()
    ckpt.save(settings.checkpoint_path, state)
    backend = Backend(settings)
    assert backend.expand(GEMINI_CHAT, 0, 3, 3, 1) == []
    assert backend.expand(CODEX_ROLLOUT, middle_of_codex(folders), 3, 3) == []
