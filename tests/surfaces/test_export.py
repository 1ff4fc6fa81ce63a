"""``export`` through the real program: Markdown and one HTML file, redacted, standing alone."""

from __future__ import annotations

import html.parser
import json
import shutil
from pathlib import Path

from ..conftest import DEMO, run_cli

SESSION = "6c1d2e3f-0000-4000-8000-00000000e4e4"
SECRET = "ghp_" + "x7Kq2LmN9pR4sT6vW8yZ1aB3cD5eF7gH9jK0"  # a GitHub token's form
HOSTILE = '<script>alert(1)</script><img src="https://example.com/x.png">'


def session_with_secret(folder: Path) -> None:
    records = [
        ("user", f"deploy with the token {SECRET} and then {HOSTILE}"),
        ("assistant", "Deployed. Keep the token out of the repository: use the CI secret store."),
    ]
    lines = [
        {
            "type": role,
            "uuid": f"00000000-0000-4000-8000-00000000010{i}",
            "sessionId": SESSION,
            "cwd": "/home/dev/deploy",
            "timestamp": f"2026-11-0{i + 1}T10:00:00.000Z",
            "message": {"role": role, "content": text},
        }
        for i, (role, text) in enumerate(records)
    ]
    path = folder / "-home-dev-deploy" / f"{SESSION}.jsonl"
    path.parent.mkdir()
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


class _Loads(html.parser.HTMLParser):
    """Every attribute that would load or run something."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.found.append((tag, ""))
        self.found += [(tag, f"{k}={v}") for k, v in attrs if k in ("src", "href")]


def test_export_as_markdown_and_html_redacted_and_self_contained(tmp_path: Path) -> None:
    shutil.copytree(DEMO, tmp_path / "conversations")
    session_with_secret(tmp_path / "conversations")
    env = {"CONVERSATIONS_DIR": str(tmp_path / "conversations"), "STATE_DIR": str(tmp_path / "s")}
    assert run_cli("--once", env=env).returncode == 0

    out = run_cli("export", SESSION, "--output", str(tmp_path / "s.md"), env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    markdown = (tmp_path / "s.md").read_text()
    assert markdown.startswith(f"# Session {SESSION}")
    assert "**project**: /home/dev/deploy" in markdown and "## Assistant" in markdown
    assert SECRET not in markdown and "[REDACTED" in markdown

    out = run_cli("export", SESSION, "--format", "html", "--output", "-", env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    page = out.stdout
    assert SECRET not in page and "[REDACTED" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    loads = _Loads()
    loads.feed(page)
    assert loads.found == []  # no script, no image, no link: nothing to fetch or run
    assert "default-src 'none'" in page

    missing = run_cli("export", "no-such-session", env=env)
    assert missing.returncode == 2 and "no imported session" in missing.stderr
