"""What changed besides the metrics: estimator, parameters and data, champion -> challenger."""

from __future__ import annotations

from typing import Any

HASH_CHARS = 12  # every hash in a report is shown at this length


def short_hash(value: Any) -> str:
    return str(value)[:HASH_CHARS] if value else "–"


def between(champion: dict[str, Any] | None, challenger: dict[str, Any] | None) -> dict[str, Any]:
    """Model-card differences; the champion's side is None on a first run."""
    challenger = challenger or {}
    return {
        "estimator": _pair(champion, challenger, lambda card: card.get("estimator")),
        "params": _params(champion, challenger),
        "data": [
            {"name": name, **_pair(champion, challenger, pick)} for name, pick in _DATA_FIELDS
        ],
    }


def _pair(champion: dict[str, Any] | None, challenger: dict[str, Any], pick: Any) -> dict[str, Any]:
    return {
        "champion": None if champion is None else pick(champion),
        "challenger": pick(challenger),
    }


def _params(champion: dict[str, Any] | None, challenger: dict[str, Any]) -> list[dict[str, Any]]:
    """Parameters whose value differs (all of the challenger's on a first run)."""
    old = (champion or {}).get("params") or {}
    new = challenger.get("params") or {}
    names = sorted(set(old) | set(new))
    return [
        {"name": n, "champion": old.get(n) if champion else None, "challenger": new.get(n)}
        for n in names
        if champion is None or old.get(n) != new.get(n)
    ]


def _data(card: dict[str, Any], split: str, key: str) -> Any:
    value = ((card.get("data") or {}).get(split) or {}).get(key)
    return short_hash(value) if key == "sha256" and value else value


_DATA_FIELDS = [
    ("train rows", lambda card: _data(card, "train", "rows")),
    ("train sha256", lambda card: _data(card, "train", "sha256")),
    ("train file", lambda card: _data(card, "train", "path")),
    ("features", lambda card: len((card.get("data") or {}).get("features") or []) or None),
    ("config sha256", lambda card: short_hash(card.get("config_hash"))),
]
