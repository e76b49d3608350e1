"""Window/level presets per modality, in modality units (HU for CT).

Built-in values follow common radiology practice (Radiopaedia "Windowing (CT)").  User
presets live in ``presets.json`` in the app folder (``AppPaths.home``)::

    {"schema_version": 1,
     "presets": [{"name": "temporal bone", "center": 700, "width": 4000, "modality": "CT"}]}

A bad entry is skipped with a reason; the file is written atomically.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from pacsadmin.core.fileio import atomic_write_text
from pacsadmin.core.imaging.errors import ImageError
from pacsadmin.core.imaging.luts import Window


@dataclass(frozen=True)
class Preset:
    name: str
    center: float
    width: float
    modality: str = "CT"
    label: str = ""
    function: str = "LINEAR"
    user: bool = False

    def window(self) -> Window:
        return Window(self.center, self.width, self.function, self.label or self.name, "preset")


PRESETS: tuple[Preset, ...] = (
    Preset("brain", 40, 80, label="Brain"),
    Preset("subdural", 75, 215, label="Subdural"),
    Preset("stroke", 32, 8, label="Stroke"),
    Preset("lung", -600, 1500, label="Lung"),
    Preset("mediastinum", 50, 350, label="Mediastinum"),
    Preset("abdomen", 50, 400, label="Abdomen (soft tissue)"),
    Preset("liver", 30, 150, label="Liver"),
    Preset("bone", 400, 1800, label="Bone"),
)


SCHEMA_VERSION = 1


def presets_for(modality: str | None, user: tuple[Preset, ...] = ()) -> tuple[Preset, ...]:
    """Presets that make sense for ``modality`` (built-in first, then the user's)."""
    key = (modality or "").upper()
    return tuple(p for p in (*PRESETS, *user) if p.modality == key or p.modality == "*")


def find_preset(name: str, user: tuple[Preset, ...] = ()) -> Preset:
    key = name.strip().lower()
    for p in (*user, *PRESETS):  # a user preset may redefine a built-in name
        if p.name == key:
            return p
    names = ", ".join(p.name for p in (*PRESETS, *user))
    raise ImageError(f"unknown preset {name!r}; choose one of: {names}", kind="preset")


def load_user_presets(path: str | os.PathLike[str]) -> tuple[tuple[Preset, ...], list[str]]:
    """(presets, problems): a missing file is no presets; bad entries are skipped."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return (), []
    except (OSError, ValueError) as exc:
        return (), [f"{path}: cannot be read ({exc})"]
    if not isinstance(data, dict) or not isinstance(data.get("presets"), list):
        return (), [f"{path}: no 'presets' list"]
    out: list[Preset] = []
    problems: list[str] = []
    for i, item in enumerate(data["presets"], 1):
        try:
            p = Preset(
                name=str(item["name"]).strip().lower(),
                center=float(item["center"]),
                width=float(item["width"]),
                modality=str(item.get("modality", "CT")).strip().upper() or "*",
                label=str(item.get("label", "") or item["name"]),
                function=str(item.get("function", "LINEAR")).strip().upper(),
                user=True,
            )
            if not p.name:
                raise ValueError("empty name")
            p.window()  # validates width and function
        except (KeyError, TypeError, ValueError, ImageError) as exc:
            problems.append(f"{path}: preset {i} skipped ({exc})")
            continue
        out.append(p)
    return tuple(out), problems


def save_user_presets(path: str | os.PathLike[str], presets: tuple[Preset, ...]) -> None:
    """Write atomically (temp file in the same folder, fsync, then ``os.replace``)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "schema_version": SCHEMA_VERSION,
        "presets": [{k: v for k, v in asdict(p).items() if k != "user"} for p in presets if p.user],
    }
    atomic_write_text(target, json.dumps(body, indent=2) + "\n", mode=0o644)
