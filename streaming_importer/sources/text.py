"""What a part of a transcript looks like when stored: shared by every transcript format.

- :func:`prompt_kind`: text Claude Code puts in the user's turn that the person
  did not type (slash-command wrappers and their output, background task
  notifications, the compaction instruction, the "Warmup" every subagent opens
  with, notices of a file opened in the IDE, system reminders) is still stored
  and searchable, but as kind ``injected``, so it is never shown as the prompt a
  hit answered; a slash command typed with arguments becomes the prompt
  ``/name arguments``;

- :func:`clean`: texts with no meaning of their own dropped, Claude Code's
  ``<system-reminder>`` blocks removed, inline images and long base64 runs
  replaced by markers (they would cost hundreds of model tokens each and
  nobody searches for them);
- :func:`as_stored`: secrets replaced by markers, then the text cut to its cap
  (in that order: a secret cut in two must not leave a recognisable prefix).

Pure.
"""

from __future__ import annotations

import re
from typing import Any

from streaming_importer.sources.messages import ParseLimits
from streaming_importer.sources.redact import redact

__all__ = ["IMAGE_MARKER", "INJECTED", "as_stored", "blocks_text", "cap", "clean", "prompt_kind"]

#: Texts that carry no meaning of their own.
_NOISE_TEXTS = frozenset(
    {"[Request interrupted by user]", "[Request interrupted by user for tool use]"}
)
IMAGE_MARKER = "[image]"
#: Longest secret that redaction must see whole at a cut, in characters (a PEM
#: private key block is under 4 KB).
_SECRET_MAX_CHARS = 8192
_SYSTEM_REMINDER_RE = re.compile(r"<system-reminder>.*?</system-reminder>", re.DOTALL)
# In a typed prompt a reminder and the space around it become one line break.
_REMINDER_AND_SPACE_RE = re.compile(r"\s*<system-reminder>.*?</system-reminder>\s*", re.DOTALL)
# Inline base64 images (data URIs) and long unbroken base64 runs are not text
# anybody searches for, and they would cost hundreds of model tokens each.
_DATA_URI_RE = re.compile(r"data:image/[a-zA-Z0-9.+-]+;base64,[A-Za-z0-9+/=\s]{16,}")
_BASE64_RUN_RE = re.compile(r"[A-Za-z0-9+/]{200,}={0,2}")


def clean(text: str) -> str:
    """``text`` without what nobody searches for; "" if nothing is left."""
    if text in _NOISE_TEXTS:
        return ""
    if "<system-reminder>" in text:
        text = _SYSTEM_REMINDER_RE.sub("", text)
    if "base64" in text:
        text = _DATA_URI_RE.sub(IMAGE_MARKER, text)
    if len(text) >= 200:
        text = _BASE64_RUN_RE.sub("[base64]", text)
    return text.strip()


def blocks_text(
    content: Any, *, images: frozenset[str], texts: frozenset[str] | None = None
) -> str:
    """The text of a message's ``content``: a string, or content blocks.

    Blocks whose ``type`` is in ``images`` become :data:`IMAGE_MARKER`; the
    ``text`` of the others (only of ``texts`` types, where given) is kept,
    cleaned, one per line.
    """
    if isinstance(content, str):
        return clean(content)
    if not isinstance(content, list):
        return ""
    found: list[str] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        if block.get("type") in images:
            found.append(IMAGE_MARKER)
        elif texts is None or block.get("type") in texts:
            value = block.get("text")
            if isinstance(value, str) and (text := clean(value)):
                found.append(text)
    return "\n".join(found)


def cap(text: str, max_chars: int, dropped: int = 0) -> str:
    """``text`` cut to ``max_chars``, saying how much more there was (``dropped`` beyond it)."""
    if len(text) <= max_chars and not dropped:
        return text
    more = len(text) - max_chars + dropped
    return f"{text[:max_chars].rstrip()} [… {more} more characters]"


def as_stored(text: str, max_chars: int, limits: ParseLimits) -> tuple[str, int]:
    """A part's text as it is stored, and the secrets replaced in it.

    Secrets are replaced before the cap (``max_chars``, 0: none), so one that
    straddles the cut is replaced whole. Past the cap plus the longest secret
    nothing can reach the cut, so only that much is searched.
    """
    dropped = 0
    if max_chars and len(text) > max_chars + _SECRET_MAX_CHARS:
        dropped = len(text) - (max_chars + _SECRET_MAX_CHARS)
        text = text[: max_chars + _SECRET_MAX_CHARS]
    found = 0
    if limits.redact_secrets:
        text, counts = redact(text)
        found = sum(counts.values())
    return (cap(text, max_chars, dropped) if max_chars else text), found


#: The kind of a user turn's text that Claude Code wrote.
INJECTED = "injected"

#: Whole-text markers: a user turn that starts with one was written by Claude Code.
_STARTS = (
    "<local-command-stdout>",
    "<local-command-stderr>",
    "<local-command-caveat>",
    "<task-notification>",
    "<system-reminder>",
    "<ide_opened_file>",
    "<ide_selection>",
    "<user-prompt-submit-hook>",
    "<bash-stdout>",
    "<bash-stderr>",
    "Caveat: The messages below were generated by the user while running local commands",
    "Your task is to create a detailed summary of the conversation so far",
    "[Request interrupted by user",
)
#: Whole texts Claude Code sends as a prompt.
_EXACT = frozenset({"Warmup"})
_COMMAND_NAME = re.compile(r"<command-name>\s*(.*?)\s*</command-name>", re.DOTALL)
_COMMAND_ARGS = re.compile(r"<command-args>\s*(.*?)\s*</command-args>", re.DOTALL)
#: A compaction summary that arrived without its ``isCompactSummary`` flag.
_CONTINUED = "This session is being continued from a previous conversation"


def prompt_kind(text: str) -> tuple[str, str]:
    """(kind, text) of a user turn's typed text: ``prompt``, ``summary`` or ``injected``.

    System reminders inside a typed prompt are cut out of it; a slash command
    with arguments becomes ``/name arguments``.
    """
    stripped = text.strip()
    if stripped in _EXACT or stripped.startswith(_STARTS):
        return INJECTED, text
    if stripped.startswith(_CONTINUED):
        return "summary", text
    if "<command-name>" in stripped or stripped.startswith("<command-message>"):
        name = _COMMAND_NAME.search(stripped)
        args = _COMMAND_ARGS.search(stripped)
        if name and args and args.group(1):
            return "prompt", f"{name.group(1)} {args.group(1)}"
        return INJECTED, text
    if "<system-reminder>" in stripped:
        typed = _REMINDER_AND_SPACE_RE.sub("\n", stripped).strip()
        return ("prompt", typed) if typed else (INJECTED, text)
    return "prompt", text
