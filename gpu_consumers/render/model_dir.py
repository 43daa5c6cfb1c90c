"""Finding and checking a Mochi model folder before anything is loaded, so a bad folder fails at start-up.

A diffusers folder holds `model_index.json` and one subfolder per component. `check_model_dir` names every
missing piece at once (a component folder, its config, its weights, a shard an index refers to) instead of
letting `from_pretrained` fail on the first one, minutes into loading.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from reelstream.errors import ConfigurationError

MOCHI_COMPONENTS: Final = ("scheduler", "text_encoder", "tokenizer", "transformer", "vae")
WEIGHTED: Final = ("text_encoder", "transformer", "vae")
_CONFIG_FILE: Final = {"scheduler": "scheduler_config.json", "tokenizer": "tokenizer_config.json"}
BF16: Final = "bf16"


@dataclass(frozen=True)
class ModelDir:
    path: Path
    variant: str | None  # "bf16" when the folder carries bf16 weight files


def resolve_model_dir(model_dir: str | None, model_id: str | None) -> Path:
    """A local folder as given, or the snapshot of `model_id` already in the Hugging Face cache (offline)."""
    if model_dir:
        return Path(model_dir)
    if not model_id:
        raise ConfigurationError("the mochi-1 renderer needs REELSTREAM_MODEL_DIR or REELSTREAM_MODEL_ID")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(model_id, local_files_only=True))
    except LocalEntryNotFoundError as exc:
        raise ConfigurationError(f"{model_id} is not in the Hugging Face cache (no download here)") from exc


def check_model_dir(path: Path) -> ModelDir:
    """Raise ConfigurationError listing everything missing from a Mochi diffusers folder."""
    index = path / "model_index.json"
    if not index.is_file():
        raise ConfigurationError(f"{path} is not a diffusers model folder: model_index.json is missing")
    try:
        declared = json.loads(index.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"{index} is unreadable: {exc}") from exc
    missing = [
        f"model_index.json does not declare {name}" for name in MOCHI_COMPONENTS if name not in declared
    ]
    variant = BF16 if any((path / "transformer").glob(f"*.{BF16}.*")) else None
    for name in MOCHI_COMPONENTS:
        folder = path / name
        if not folder.is_dir():
            missing.append(f"{name}/")
            continue
        config = _CONFIG_FILE.get(name, "config.json")
        if not (folder / config).is_file():
            missing.append(f"{name}/{config}")
        if name in WEIGHTED:
            missing.extend(_missing_weights(folder, name, variant))
    if missing:
        raise ConfigurationError(f"Mochi model folder {path} is incomplete; missing: {', '.join(missing)}")
    return ModelDir(path=path, variant=variant)


def _missing_weights(folder: Path, name: str, variant: str | None) -> list[str]:
    """Weights are one safetensors file, or an index plus the shards it names."""
    suffix = f".{variant}" if variant else ""
    indexes = sorted(folder.glob(f"*.safetensors.index{suffix}.json"))
    if indexes:
        try:
            shards = set(json.loads(indexes[0].read_text())["weight_map"].values())
        except (OSError, ValueError, KeyError) as exc:
            return [f"{name}/{indexes[0].name} (unreadable: {exc})"]
        return [f"{name}/{shard}" for shard in sorted(shards) if not (folder / shard).is_file()]
    if any(folder.glob(f"*{suffix}.safetensors")):
        return []
    return [f"{name}/*{suffix}.safetensors"]
