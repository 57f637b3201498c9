"""The ``PULSE_*`` environment variables the settings read, to check manifests and images against.

A variable that no setting reads is silently ignored (a typo, or a name of an earlier version
that :mod:`pipelines.config` renamed): the deploy artefacts must only set names that exist.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import BaseModel

from pipelines import config

PREFIX = "PULSE_"


@lru_cache(maxsize=1)
def settings_env_names() -> frozenset[str]:
    """``PULSE_<FIELD>`` per flat field, ``PULSE_<SECTION>__<FIELD>`` per section field."""
    names = {config.CONFIG_FILE_ENV, getattr(config, "SECRETS_DIR_ENV", "PULSE_SECRETS_DIR")}
    for name, field in config.Settings.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            names |= {f"{PREFIX}{name}__{sub}".upper() for sub in kind.model_fields}
        else:
            names.add(f"{PREFIX}{name}".upper())
    return frozenset(names)


def env_problem(name: str) -> str | None:
    """Why a ``PULSE_*`` variable name is wrong (None when a setting reads it)."""
    if not name.startswith(PREFIX) or name in settings_env_names():
        return None
    renamed: dict[str, str] = getattr(config, "RENAMED_ENV", {})
    if name in renamed:
        return f"{name} is obsolete: the settings read {renamed[name]}"
    return f"{name} is read by no setting of pipelines.config"
