"""A job's tier applied to a warm transformer: First-Block Cache on for the render, off again after.

The `fast` tier (reelstream.models `Tier`) runs its steps through diffusers' First-Block Cache: every step
runs the first transformer block; when its output changed by less than the threshold (relative L1) since the
last step that ran in full, the remaining blocks are skipped and their cached residual is added instead. The
same warm pipeline serves every tier, so the cache is enabled for one render and removed after it, whether
the render finished, failed or was canceled: the next `full` job gets exactly the uncached output.

Kept apart from the renderer so that benchmarks can time a step with the cache on
(`enable_first_block_cache`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import torch
from diffusers.hooks.first_block_cache import FirstBlockCacheConfig
from diffusers.models.cache_utils import CacheMixin

from gpu_consumers.render.base import RenderError
from reelstream.models.spec import Tier


def _cacheable(transformer: torch.nn.Module) -> CacheMixin:
    if not isinstance(transformer, CacheMixin):
        raise RenderError(f"{type(transformer).__name__} has no cache hooks: the fast tier needs them")
    return transformer


def _forget_hook_registries(transformer: torch.nn.Module) -> None:
    """Drop every hook registry's cached list of its children's registries. diffusers 0.39 builds that list
    on the first `cache_context` and never rebuilds it: on a transformer that already rendered once, hooks
    added later never get a context ("No context is set") and hooks removed stay listed."""
    for module in transformer.modules():
        registry = getattr(module, "_diffusers_hook", None)
        if registry is not None:
            registry._child_registries_cache = None


def enable_first_block_cache(transformer: torch.nn.Module, threshold: float) -> None:
    """First-Block Cache on `transformer` at `threshold` (> 0). Raises RenderError if a cache is already on
    (a render that did not clean up after itself) or the model has no cache hooks."""
    if not threshold > 0:
        raise RenderError(f"a First-Block Cache threshold must be > 0, got {threshold}")
    model = _cacheable(transformer)
    if model.is_cache_enabled:
        raise RenderError(f"a cache is already on ({type(model._cache_config).__name__})")
    model.enable_cache(FirstBlockCacheConfig(threshold=threshold))
    _forget_hook_registries(transformer)


def disable_cache(transformer: torch.nn.Module) -> None:
    """Every cache hook removed; a transformer without a cache is left as it is."""
    if isinstance(transformer, CacheMixin) and transformer.is_cache_enabled:
        transformer.disable_cache()
        _forget_hook_registries(transformer)


def cache_threshold(tiers: Mapping[str, Tier], tier: str) -> float | None:
    """The First-Block Cache threshold of `tier` among a model's `tiers` (None: no cache); a tier the model
    does not have is a RenderError (ingest and admission refuse it first, naming `tier`)."""
    found = tiers.get(tier)
    if found is None:
        raise RenderError(f"this model has tiers {', '.join(tiers)}, not {tier!r}")
    return found.cache_threshold


def cache_settings(threshold: float | None) -> dict[str, str]:
    """How a render's cache ran, for its artifact's record (`render_settings`)."""
    return {} if threshold is None else {"first_block_cache": f"{threshold:g}"}


@contextmanager
def tier_cache(transformer: torch.nn.Module, threshold: float | None) -> Iterator[None]:
    """First-Block Cache at `threshold` for the body (None: none, the full tier), removed on the way out
    whatever the body raised."""
    if threshold is None:
        yield
        return
    enable_first_block_cache(transformer, threshold)
    try:
        yield
    finally:
        disable_cache(transformer)
