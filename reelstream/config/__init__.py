"""The settings registry (every REELSTREAM_* variable declared once), its loading, and its documentation.

`load_config(env)` parses the registry; reelstream.settings builds each service's frozen settings from it."""

from reelstream.config.declare import SettingInfo
from reelstream.config.loading import Config, load_config, or_exit, settings_info
from reelstream.config.registry import Registry

__all__ = ["Config", "Registry", "SettingInfo", "load_config", "or_exit", "settings_info"]
