"""What must never be embedded: excluded projects, marked and forgotten sessions.

- ``EXCLUDE_PROJECTS``: globs on a session's project path (``/home/me/secret*``,
  ``*/clients/*``) or its last folder name.
- The do-not-index marker: a session with a prompt that contains ``#no-index``
  is never embedded (and what was stored of it before the marker is deleted).
- ``forget --session ID | --project P`` deletes the points and leaves a
  tombstone in the checkpoint, so the importer never imports them again,
  also after a restart or when the transcript is rewritten.

:class:`Privacy` answers "may this message be embedded?"; pure, no I/O.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Iterable
from pathlib import PurePosixPath

from streaming_importer.sources.messages import Message

__all__ = [
    "NO_INDEX_MARKER",
    "Privacy",
    "Tombstones",
    "project_field",
]

#: In a prompt: never embed this session.
NO_INDEX_MARKER = "#no-index"


def project_field(project: str) -> tuple[str, str]:
    """The payload field and value a ``--project`` argument names, for search and forget alike.

    A path (``/home/me/shop``, a trailing ``/`` dropped) is the ``project``
    field; a folder name (``shop``, ``shop/``) is ``project_name``.
    """
    if "/" in project.strip("/"):
        return "project", project.rstrip("/") or "/"
    return "project_name", project.strip("/")


@dataclasses.dataclass(slots=True)
class Tombstones:
    """Sessions and projects forgotten (or marked); kept in the checkpoint.

    Names, matched literally. The parse thread reads them while the event loop
    adds to them, so they are never changed in place: an addition replaces the
    set (:meth:`add_session`, :meth:`add_project`).
    """

    sessions: set[str] = dataclasses.field(default_factory=set)
    projects: set[str] = dataclasses.field(default_factory=set)

    def cover(self, session_id: str, project: str | None) -> bool:
        """Whether the session, or its project (path or last folder name), is forgotten."""
        if session_id in self.sessions:
            return True
        # Checked for every stored point: nothing to work out when nothing is forgotten.
        return (
            bool(self.projects)
            and project is not None
            and (project in self.projects or PurePosixPath(project).name in self.projects)
        )

    def add_session(self, session: str) -> None:
        self.sessions = self.sessions | {session}

    def add_project(self, project: str) -> None:
        self.projects = self.projects | {project}

    def to_json(self) -> dict[str, list[str]]:
        return {"sessions": sorted(self.sessions), "projects": sorted(self.projects)}

    @classmethod
    def from_json(cls, data: dict[str, Iterable[str]] | None) -> Tombstones:
        data = data or {}
        return cls(set(data.get("sessions", ())), set(data.get("projects", ())))


@dataclasses.dataclass(slots=True)
class Privacy:
    """The exclusion rules of one run."""

    exclude_globs: tuple[str, ...]
    tombstones: Tombstones

    def allows(self, message: Message, rel_path: str = "") -> bool:
        """Whether ``message`` (of the transcript at ``rel_path``) may be embedded and stored.

        A message seen before the session's first working directory (a
        ``summary`` line, say) has no project yet; it is judged by the
        project folder's name instead, the path with "/" written as "-" as
        Claude Code names it.
        """
        tombstones = self.tombstones
        if tombstones.cover(message.session_id, message.project):
            return False
        project = message.project
        if project is None:
            slug = PurePosixPath(rel_path).parts[0] if "/" in rel_path else ""
            if not slug:
                return True
            # Tombstones are names, taken literally; EXCLUDE_PROJECTS are globs.
            forgotten = any(
                slug in (name.replace("/", "-"), name) or slug.endswith("-" + name)
                for name in tombstones.projects
            )
            return not forgotten and not any(
                fnmatch.fnmatchcase(slug, pattern)
                for rule in self.exclude_globs
                for pattern in (rule.replace("/", "-"), "*-" + rule)
            )
        return self.allows_session(message.session_id, project)

    def allows_session(self, session_id: str, project: str | None) -> bool:
        """Whether a session of ``project`` may be shown at all (not forgotten nor excluded)."""
        if self.tombstones.cover(session_id, project):
            return False
        if project is None:
            return True
        name = PurePosixPath(project).name
        return not any(
            fnmatch.fnmatchcase(project, glob) or fnmatch.fnmatchcase(name, glob)
            for glob in self.exclude_globs
        )

    @staticmethod
    def marks_no_index(message: Message) -> bool:
        """Whether ``message`` is a prompt asking that its session not be indexed."""
        return message.kind == "prompt" and NO_INDEX_MARKER in message.text
