"""Star people are excluded from pretraining by name; identities split by person."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from starrec.errors import StageError
from starrec.names import person_key
from starrec.pretrain.identities import excluded, split_people, target_names


def test_person_key_ignores_case_underscores_spaces():
    assert person_key("Colin_Powell") == person_key("colin powell") == person_key("COLIN-POWELL")
    assert person_key("Colin_Powell") != person_key("Colin_Farrell")
    assert person_key("Jean-Claude O'Brien") == person_key("jean_claude obrien")


def test_excluded_matches_targets_by_name_only():
    public = ["Colin_Powell", "Tony_Blair", "Hugo_Chavez"]
    assert excluded(public, ["colin powell", "TONY_BLAIR", "ben_afflek"]) == ["Colin_Powell",
                                                                              "Tony_Blair"]


def test_target_names_from_manifest_ok_rows_and_label_map(tmp_path):
    manifest = tmp_path / "manifest.csv"
    pd.DataFrame({"class": ["a", "a", "b", "c"],
                  "status": ["ok", "ok", "ok", "not_image"]}).to_csv(manifest, index=False)
    assert target_names(manifest) == ["a", "b"]
    label_map = tmp_path / "label_map.json"
    label_map.write_text(json.dumps({"classes": ["x", "y"]}))
    assert target_names(label_map) == ["x", "y"]
    with pytest.raises(StageError, match="missing.csv"):
        target_names(tmp_path / "missing.csv")


def test_split_people_is_by_person_seeded_and_disjoint():
    people = [f"p{i}" for i in range(20)]
    train, held = split_people(people * 3, holdout=0.2, seed=1)
    assert len(held) == 4 and len(train) == 16 and not set(train) & set(held)
    assert split_people(people, 0.2, 1) == (train, held)
    assert split_people(people, 0.2, 2) != (train, held)
    with pytest.raises(StageError, match="at least 4"):
        split_people(["a", "b", "c"], 0.2, 1)
