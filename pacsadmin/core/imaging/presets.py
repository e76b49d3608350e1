"""Window/level presets per modality, in modality units (HU for CT).

Values follow common radiology practice (Radiopaedia "Windowing (CT)"); users add their own
through settings.  ``window_for`` returns a :class:`~pacsadmin.core.imaging.luts.Window`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pacsadmin.core.imaging.errors import ImageError
from pacsadmin.core.imaging.luts import Window


@dataclass(frozen=True)
class Preset:
    name: str
    center: float
    width: float
    modality: str = "CT"
    label: str = ""

    def window(self) -> Window:
        return Window(self.center, self.width, "LINEAR", self.label or self.name, "preset")


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


def presets_for(modality: str | None) -> tuple[Preset, ...]:
    """Presets that make sense for ``modality`` (all CT presets are in HU)."""
    return tuple(p for p in PRESETS if p.modality == (modality or "").upper())


def find_preset(name: str) -> Preset:
    key = name.strip().lower()
    for p in PRESETS:
        if p.name == key:
            return p
    names = ", ".join(p.name for p in PRESETS)
    raise ImageError(f"unknown preset {name!r}; choose one of: {names}", kind="preset")
