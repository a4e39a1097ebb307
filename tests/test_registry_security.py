"""An attacker who can rewrite a stored model bundle (its model file, model card and
record.json together, as release assets or a registry folder allow) gets no code run:
the champion pointer's seal refuses it before a byte is unpickled.

Execution is detected as an attacker's payload would announce itself: a pickle whose
__reduce__ writes a marker file when it is loaded."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import pytest

from ci_ml.bundle import load_model
from ci_ml.errors import ENVIRONMENT, IntegrityError
from tests.registry_support import WHO, Backend, add, backend

__all__ = ["backend"]


class Payload:
    """What the attacker ships: unpickling it runs `exec` on their code."""

    def __init__(self, marker: Path) -> None:
        self.code = f"open({str(marker)!r}, 'w').write('code ran')"

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return exec, (self.code,)


def champion(backend: Backend, tmp_path: Path) -> dict:
    """Version 1, promoted; its card as stored."""
    add(backend, tmp_path, "a")
    backend.registry.promote(1, None, WHO)
    return json.loads(backend.stored(1, "model-card.json"))


def load_champion(backend: Backend) -> IntegrityError:
    with pytest.raises(IntegrityError) as caught:
        load_model(backend.fresh().model_file(1))
    assert caught.value.exit_code == ENVIRONMENT
    return caught.value


def rewrite_card(backend: Backend, card: dict, **model_file: object) -> dict:
    card["model_file"] |= model_file
    backend.replace(1, "model-card.json", json.dumps(card).encode())
    return card["model_file"]


def test_file_record_and_card_replaced_together_are_refused(backend, tmp_path):
    marker = tmp_path / "pwned"
    card = champion(backend, tmp_path)
    evil = pickle.dumps(Payload(marker))
    name = card["model_file"]["file"]
    forged = rewrite_card(
        backend,
        card,
        format="pickle",
        sha256=hashlib.sha256(evil).hexdigest(),
        size_bytes=len(evil),
        trusted_types=[],
    )
    backend.replace(1, name, evil)
    if backend.name != "mlflow":  # MLflow's record is the version's own tags
        record = {"version": 1, "sha256": forged["sha256"], "model_file": forged}
        backend.replace(1, "record.json", json.dumps(record).encode())
    error = load_champion(backend)
    assert "refus" in error.message
    assert not marker.exists()


def test_a_card_whose_format_became_pickle_is_refused(backend, tmp_path):
    card = champion(backend, tmp_path)
    assert card["model_file"]["format"] == "skops"
    rewrite_card(backend, card, format="pickle")
    error = load_champion(backend)
    assert "format 'pickle' differs from the registry record 'skops'" in error.message


def test_an_edited_trusted_types_list_is_refused(backend, tmp_path):
    marker = tmp_path / "pwned"
    card = champion(backend, tmp_path)
    types = [*card["model_file"]["trusted_types"], "builtins.exec"]
    forged = rewrite_card(backend, card, trusted_types=types)
    if backend.name != "mlflow":
        record = json.loads(backend.stored(1, "record.json")) | {"model_file": forged}
        backend.replace(1, "record.json", json.dumps(record).encode())
    error = load_champion(backend)
    assert "trusted_types" in error.message and "refus" in error.message
    assert not marker.exists()


def test_a_card_naming_a_path_is_refused_in_every_backend(backend, tmp_path):
    card = champion(backend, tmp_path)
    rewrite_card(backend, card, file="../../escape.skops")
    error = load_champion(backend)
    assert "not a plain file name" in error.message
    assert not (tmp_path / "escape.skops").exists()


def test_an_earlier_champion_keeps_its_seal_for_rollback(backend, tmp_path):
    marker = tmp_path / "pwned"
    card = champion(backend, tmp_path)
    add(backend, tmp_path, "b")
    backend.registry.promote(2, 1, WHO)
    evil = pickle.dumps(Payload(marker))
    forged = rewrite_card(
        backend, card, format="pickle", sha256=hashlib.sha256(evil).hexdigest(), trusted_types=[]
    )
    backend.replace(1, card["model_file"]["file"], evil)
    if backend.name != "mlflow":
        record = {"version": 1, "sha256": forged["sha256"], "model_file": forged}
        backend.replace(1, "record.json", json.dumps(record).encode())
    assert backend.fresh().rollback(WHO).number == 1
    load_champion(backend)
    assert not marker.exists()
