"""The package's shape: layers that import one way, small modules, small folders, a map.

What ARCHITECTURE.md draws is checked here against the code, so the map and
the tree cannot drift apart.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from .conftest import ROOT

PACKAGE = ROOT / "streaming_importer"
#: The layers, lowest first: a module may import its own layer and those below.
LAYERS = (
    "errors",
    "sources",
    "ops",
    "state",
    "store",
    "embedding",
    "pipeline",
    "search",
    "surfaces",
)
#: "No module over about 300 lines": a little slack, so a docstring does not fail the build.
MODULE_MAX_LINES = 320
FOLDER_MAX_MODULES = 12
#: Imports of the package's own modules inside a function, each for start-up time
#: (a comment beside each says what it saves); none may dodge a cycle.
DEFERRED = {
    ("streaming_importer.store", "streaming_importer.store.edge"),
    ("streaming_importer.store", "streaming_importer.store.server"),
    ("streaming_importer.surfaces.cli.main", "streaming_importer.surfaces.mcp"),
    ("streaming_importer.embedding.model_folder", "streaming_importer.embedding.bert_onnx"),
    # The recall hook runs on every prompt: the standard library only until an importer runs.
    ("streaming_importer.surfaces.hooks.recall", "streaming_importer.ops.config"),
}


def modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def layer(name: str) -> str | None:
    """The layer of a dotted module name; None for the package's own faces."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def imports(path: Path) -> list[tuple[str, bool]]:
    """(module imported, whether inside a function) for the package's own imports."""
    tree = ast.parse(path.read_text())
    nested = {
        id(node)
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(fn)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "streaming_importer"
        ):
            assert node.module is not None
            targets = [node.module]
            if node.module == "streaming_importer":
                targets = [f"streaming_importer.{a.name}" for a in node.names]
            found += [(t, id(node) in nested) for t in targets]
        elif isinstance(node, ast.Import):
            found += [
                (a.name, id(node) in nested)
                for a in node.names
                if a.name.startswith("streaming_importer")
            ]
    return found


def test_imports_point_down_the_layers() -> None:
    upward = []
    for name, path in modules().items():
        mine = layer(name)
        if mine is None:
            continue
        for target, _ in imports(path):
            theirs = layer(target)
            if theirs is not None and LAYERS.index(theirs) > LAYERS.index(mine):
                upward.append(f"{name} -> {target}")
    assert upward == []


def test_no_deferred_import_but_the_listed_ones() -> None:
    deferred = {
        (name, target)
        for name, path in modules().items()
        for target, nested in imports(path)
        if nested
    }
    assert deferred == DEFERRED


def test_the_layer_check_sees_an_upward_import(tmp_path: Path) -> None:
    # The check above must be able to fail: a store module importing search is caught.
    bad = tmp_path / "bad.py"
    bad.write_text("from streaming_importer.search.query import SearchQuery\n")
    ((target, nested),) = imports(bad)
    assert LAYERS.index(layer(target) or "") > LAYERS.index("store") and not nested


def test_no_module_is_over_about_300_lines() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    assert {n: size for n, size in sizes.items() if size > MODULE_MAX_LINES} == {}


def test_no_folder_holds_more_than_about_12_modules() -> None:
    folders: dict[Path, int] = {}
    for path in PACKAGE.rglob("*.py"):
        if path.name != "__init__.py":
            folders[path.parent] = folders.get(path.parent, 0) + 1
    assert {str(f): n for f, n in folders.items() if n > FOLDER_MAX_MODULES} == {}


def test_every_module_says_what_it_owns() -> None:
    missing = [
        name
        for name, path in modules().items()
        if not (ast.get_docstring(ast.parse(path.read_text())) or "").strip()
    ]
    assert missing == []


def test_the_architecture_map_lists_every_module() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    block = text.split("```\nstreaming_importer/\n", 1)[1].split("```", 1)[0]
    listed: set[str] = set()
    folders: list[str] = []
    for line in block.splitlines():
        match = re.match(r"^(\s+)([\w]+(?:\.py|/))(?:\s|$)", line)
        if not match:
            continue
        depth = (len(match.group(1)) - 2) // 2
        folders[depth:] = []
        entry = match.group(2)
        if entry.endswith("/"):
            folders.append(entry.rstrip("/"))
        else:
            listed.add("/".join([*folders, entry]))
    present = {
        str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"
    }
    assert listed == present
