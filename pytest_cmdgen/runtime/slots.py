"""Slot definitions and Rasa's type coercion (reference §12.4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SLOT_TYPES = ("text", "bool", "float", "categorical", "any", "list")
NLU_MAPPING_TYPES = ("from_entity", "from_intent", "from_trigger_intent", "from_text")

_TRUE = {"true", "yes", "y", "on"}
_FALSE = {"false", "no", "n", "off"}


class InvalidSlotValue(ValueError):
    """A value cannot be coerced to the slot's type."""


@dataclass
class SlotDefinition:
    """A domain slot: type, initial value, mappings, categorical values, and the raw YAML mapping."""

    name: str
    type: str = "text"
    initial_value: Any = None
    mappings: list[dict[str, Any]] = field(default_factory=lambda: [{"type": "from_llm"}])
    values: list[str] = field(default_factory=list)
    influence_conversation: bool = False
    raw: dict[str, Any] = field(default_factory=dict)
    validation: dict[str, Any] | None = None
    """3.12+ domain ``validation`` mapping (``rejections``, ``refill_utter``); None when absent."""

    @property
    def mapping_types(self) -> list[str]:
        """The ``type`` of each mapping, in order."""
        return [str(m.get("type", "")) for m in self.mappings]

    def coerce(self, value: Any) -> Any:
        """The value as the slot stores it; raises :class:`InvalidSlotValue` when it does not fit the type."""
        if value is None:
            return None
        if self.type == "bool":
            return coerce_bool(value)
        if self.type == "float":
            if isinstance(value, bool):
                return float(value)
            try:
                return float(value)
            except (TypeError, ValueError):
                raise InvalidSlotValue(f"{value!r} is not a number") from None
        if self.type == "categorical":
            lowered = str(value).lower()
            for candidate in self.values:
                if candidate.lower() == lowered:
                    return candidate
            if "__other__" in self.values:
                return value
            raise InvalidSlotValue(f"{value!r} is not one of {self.values}")
        if self.type == "list":
            return value if isinstance(value, list) else [value]
        return value

    def try_coerce(self, value: Any) -> Any:
        """:meth:`coerce`, but an invalid value comes back unchanged."""
        try:
            return self.coerce(value)
        except InvalidSlotValue:
            return value

    def as_dict(self) -> dict[str, Any]:
        """The slot as the domain dict sent to an action server."""
        data: dict[str, Any] = {
            "type": self.type,
            "initial_value": self.initial_value,
            "influence_conversation": self.influence_conversation,
            "mappings": self.mappings,
        }
        if self.type == "categorical":
            data["values"] = list(self.values)
        for key in ("min_value", "max_value"):
            if key in self.raw:
                data[key] = self.raw[key]
        return data


def coerce_bool(value: Any) -> bool:
    """Rasa's bool coercion: bools, numbers (== 1), ``true/false/yes/no`` and numeric strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value == 1
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        try:
            return float(text) == 1
        except ValueError:
            pass
    raise InvalidSlotValue(f"{value!r} is not a boolean")
