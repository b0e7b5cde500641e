"""The set of served models, loaded at start and reloaded on demand without a restart.

A reload builds every new session first and then swaps the whole table in one
assignment: a request holds the runtime it looked up, so in-flight requests
finish on the old sessions. A folder that fails to load leaves its previous
version serving (or stays out when it never loaded) and the reason is reported.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from aecodec_wire import manifest as mf

from ..core.config import Settings
from .sessions import ModelRuntime, Preset, load_model

log = logging.getLogger("aecodec.registry")


@dataclass
class ReloadReport:
    loaded: list[str] = field(default_factory=list)  # newly built "name@version"
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # folder name -> why it failed

    def as_dict(self) -> dict[str, Any]:
        return {"loaded": self.loaded, "unchanged": self.unchanged, "removed": self.removed, "errors": self.errors}


def settle_heap() -> None:
    """Put what is alive after a (re)load out of the cyclic collector's reach, so requests never wait for it.

    The models, sessions, tables and the app are ~76,000 tracked objects; a full collection of them took 130 ms
    (on a busy 2-core machine), all of it on the event loop, whenever request garbage triggered one.
    ``gc.freeze`` moves them to a generation the collector skips; it is undone first, so that what a reload
    dropped is collected once, here.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class ModelRegistry:
    def __init__(self, settings: Settings, executor: Executor, metrics: object | None = None) -> None:
        self.settings = settings
        self._executor = executor
        self._metrics = metrics
        self.models: dict[str, ModelRuntime] = {}
        self.presets: dict[str, ModelRuntime] = {}  # preset name -> its variable-rate model at that quality
        self.errors: dict[str, str] = {}
        self.loaded_once = False
        self._lock = asyncio.Lock()

    @property
    def ready(self) -> bool:
        """Every model folder has a version serving (a failed reload that kept the old one counts)."""
        serving = {rt.folder.name for rt in self.models.values()}
        return self.loaded_once and bool(self.models) and all(f in serving for f in self.errors)

    def get(self, name: str) -> ModelRuntime | None:
        """A served model by its own name (the name its payloads carry)."""
        return self.models.get(name)

    def find(self, name: str) -> ModelRuntime | None:
        """A served model by its own name or a preset's (a request's ``?model=``)."""
        return self.models.get(name) or self.presets.get(name)

    def get_by_wire_id(self, wire_id: int) -> ModelRuntime | None:
        """The codec model that compact payloads with this id come from."""
        for rt in self.models.values():
            if rt.manifest.wire_id == wire_id:
                return rt
        return None

    async def reload(self) -> ReloadReport:
        async with self._lock:
            report, table = await asyncio.get_running_loop().run_in_executor(None, self._build)
            old, self.models = self.models, table  # the atomic swap (no await between the two)
            self.presets = presets_of(table)
            self.errors = report.errors
            self.loaded_once = True
        for name, rt in old.items():
            if table.get(name) is not rt:
                rt.close()  # its batchers drain what they hold; late arrivals run unbatched
        for folder, why in report.errors.items():
            log.error("model folder %s not (re)loaded: %s", folder, why)
        settle_heap()
        return report

    def _build(self) -> tuple[ReloadReport, dict[str, ModelRuntime]]:
        report = ReloadReport()
        by_folder = {rt.folder.name: rt for rt in self.models.values()}
        table: dict[str, ModelRuntime] = {}
        root: Path = self.settings.model_dir
        folders = sorted(p for p in root.iterdir() if (p / mf.MANIFEST_FILE).is_file()) if root.is_dir() else []
        if not folders:
            report.errors[str(root)] = f"no model folders (with {mf.MANIFEST_FILE}) under {root}"
        for folder in folders:
            previous = by_folder.get(folder.name)
            try:
                manifest = mf.load(folder, verify=True)
                if manifest.name in table:
                    raise ValueError(f"model name {manifest.name!r} is already served from another folder")
                taken = {rt.manifest.wire_id: rt.name for rt in table.values() if rt.manifest.wire_id is not None}
                if manifest.wire_id in taken:
                    raise ValueError(f"wire_id {manifest.wire_id} is already used by model {taken[manifest.wire_id]!r}")
                if previous is not None and previous.version == manifest.version:
                    table[manifest.name] = previous
                    report.unchanged.append(f"{manifest.name}@{manifest.version}")
                    continue
                rt = load_model(folder, self.settings, self._executor, self._metrics)
                table[rt.name] = rt
                report.loaded.append(f"{rt.name}@{rt.version}")
            except Exception as exc:
                why = f"{type(exc).__name__}: {exc}".strip()
                report.errors[folder.name] = why[:2000]
                if previous is not None and previous.name not in table:
                    table[previous.name] = previous
                    report.errors[folder.name] += f" (still serving version {previous.version})"
        for name in self.models:
            if name not in table:
                report.removed.append(name)
        return report, table

    def first_of_kind(self, endpoint: str) -> ModelRuntime | None:
        for name in sorted(self.models):
            if endpoint in self.models[name].endpoints:
                return self.models[name]
        return None


def presets_of(table: dict[str, ModelRuntime]) -> dict[str, ModelRuntime]:
    """``<model>-q<k>`` for each trained level k of every variable-rate model, from its manifest alone; a
    served model's own name always wins over a preset of the same name."""
    out = {}
    for name, rt in table.items():
        rate = rt.manifest.variable_rate
        for k in range(1, rate.levels + 1) if rate is not None else ():
            alias = f"{name}-q{k}"
            if alias not in table:
                out[alias] = replace(rt, preset=Preset(alias, k))
    return out
