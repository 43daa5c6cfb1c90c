"""A Mochi model folder is checked at start-up: everything missing is named at once, bf16 found when there."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from gpu_consumers.render.model_dir import check_model_dir, resolve_model_dir
from reelstream.errors import ConfigurationError

COMPONENTS = ("scheduler", "text_encoder", "tokenizer", "transformer", "vae")


def complete_folder(root: Path, variant: str | None = None) -> Path:
    suffix = f".{variant}" if variant else ""
    (root / "model_index.json").write_text(json.dumps({name: ["diffusers", "X"] for name in COMPONENTS}))
    configs = {"scheduler": "scheduler_config.json", "tokenizer": "tokenizer_config.json"}
    for name in COMPONENTS:
        (root / name).mkdir()
        (root / name / configs.get(name, "config.json")).write_text("{}")
    for name in ("text_encoder", "vae"):
        (root / name / f"model{suffix}.safetensors").write_bytes(b"")
    shards = [f"diffusion_pytorch_model-0000{i}-of-00002{suffix}.safetensors" for i in (1, 2)]
    index = {"weight_map": {"a": shards[0], "b": shards[1]}}
    (root / "transformer" / f"diffusion_pytorch_model.safetensors.index{suffix}.json").write_text(
        json.dumps(index)
    )
    for shard in shards:
        (root / "transformer" / shard).write_bytes(b"")
    return root


def test_a_complete_folder_passes_and_its_bf16_variant_is_found(tmp_path: Path) -> None:
    assert check_model_dir(complete_folder(tmp_path)).variant is None
    other = tmp_path / "bf16"
    other.mkdir()
    assert check_model_dir(complete_folder(other, "bf16")).variant == "bf16"


def test_everything_missing_is_named_at_once(tmp_path: Path) -> None:
    root = complete_folder(tmp_path)
    (root / "transformer" / "diffusion_pytorch_model-00002-of-00002.safetensors").unlink()
    (root / "vae" / "config.json").unlink()
    for item in (root / "tokenizer").iterdir():
        item.unlink()
    (root / "tokenizer").rmdir()

    with pytest.raises(ConfigurationError) as raised:
        check_model_dir(root)

    message = raised.value.message
    for missing in (
        "transformer/diffusion_pytorch_model-00002-of-00002.safetensors",
        "vae/config.json",
        "tokenizer/",
    ):
        assert missing in message


def test_a_folder_without_model_index_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"model_index\.json is missing"):
        check_model_dir(tmp_path)


def test_a_model_id_must_already_be_in_the_cache() -> None:
    with pytest.raises(ConfigurationError, match="not in the Hugging Face cache"):
        resolve_model_dir(None, f"reelstream-tests/absent-{uuid.uuid4().hex}")
    with pytest.raises(ConfigurationError, match="REELSTREAM_MODEL_DIR or REELSTREAM_MODEL_ID"):
        resolve_model_dir(None, None)
