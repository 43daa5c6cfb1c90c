"""The models reelstream serves: the built-in families plus any a deployment loads by module name.

Registering a model is one module (its `ModelSpec`s in a `MODELS` tuple) and one entry in `FAMILIES`; a
deployment adds its own with REELSTREAM_EXTRA_MODELS=package.module,... (read in reelstream.settings).
Nothing registers itself at import: a registry is a value, made here and passed down with the settings.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType, ModuleType

from reelstream.errors import ConfigurationError
from reelstream.models import mochi
from reelstream.models.spec import ModelSpec

FAMILIES: tuple[ModuleType, ...] = (mochi,)  # the built-in model modules, each exposing MODELS
EXTRA_MODELS_VARIABLE = "REELSTREAM_EXTRA_MODELS"


class ModelRegistry:
    """An immutable set of model specs, by id."""

    __slots__ = ("_specs",)

    def __init__(self, specs: Iterable[ModelSpec]) -> None:
        by_id: dict[str, ModelSpec] = {}
        for spec in specs:
            if spec.id in by_id:
                raise ConfigurationError(f"model {spec.id!r} is registered twice")
            by_id[spec.id] = spec
        self._specs: Mapping[str, ModelSpec] = MappingProxyType(dict(sorted(by_id.items())))

    def get(self, model_id: str) -> ModelSpec | None:
        return self._specs.get(model_id)

    def __getitem__(self, model_id: str) -> ModelSpec:
        return self._specs[model_id]

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._specs

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModelRegistry) and tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(self.ids)

    def __repr__(self) -> str:
        return f"ModelRegistry({', '.join(self.ids)})"

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._specs)

    def served(self, pool_models: frozenset[str] | None) -> ModelRegistry:
        """The models some pool serves (`pool_models` None: every registered one)."""
        if pool_models is None:
            return self
        return ModelRegistry(spec for spec in self if spec.id in pool_models)

    def priors(self) -> Mapping[str, float]:
        """Seconds per work unit of each model before anything was measured (streams.cost_model)."""
        return MappingProxyType({spec.id: spec.cost_prior for spec in self})

    def check_id(self, model_id: str, variable: str) -> str:
        """`model_id` if it is registered, else a ConfigurationError naming the setting `variable`."""
        if model_id not in self:
            raise ConfigurationError(
                f"{variable}: unknown model {model_id!r}; registered: {', '.join(self.ids)}"
            )
        return model_id

    def parse_ids(self, text: str, variable: str) -> frozenset[str] | None:
        """A comma-separated list of registered model ids (`variable` names the setting in errors); an
        empty list is None, which stands for every registered model."""
        ids = frozenset(part.strip() for part in text.split(",") if part.strip())
        unknown = sorted(ids - set(self.ids))
        if unknown:
            raise ConfigurationError(
                f"{variable}: unknown model(s) {', '.join(unknown)}; registered: {', '.join(self.ids)}"
            )
        return ids or None


def specs_of(module: ModuleType) -> tuple[ModelSpec, ...]:
    """The `MODELS` a model module declares."""
    specs = getattr(module, "MODELS", None)
    if not isinstance(specs, tuple) or not specs or not all(isinstance(s, ModelSpec) for s in specs):
        raise ConfigurationError(
            f"{EXTRA_MODELS_VARIABLE}: module {module.__name__} must define MODELS, a tuple of ModelSpec"
        )
    return specs


BUILTIN_MODELS = ModelRegistry(spec for family in FAMILIES for spec in specs_of(family))


def load_registry(extra_modules: str = "") -> ModelRegistry:
    """The built-in models plus those of each module named in `extra_modules` (comma-separated dotted
    names, the value of REELSTREAM_EXTRA_MODELS). A module that cannot be imported is a ConfigurationError."""
    names = [name.strip() for name in extra_modules.split(",") if name.strip()]
    if not names:
        return BUILTIN_MODELS
    specs = list(BUILTIN_MODELS)
    for name in names:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise ConfigurationError(f"{EXTRA_MODELS_VARIABLE}: cannot import {name!r}: {exc}") from None
        specs.extend(specs_of(module))
    return ModelRegistry(specs)
