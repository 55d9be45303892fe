import pandas as pd


def test_faces_fixture_follows_contract(faces_dir) -> None:
    manifest = pd.read_csv(faces_dir / "manifest.csv")
    assert manifest["class"].value_counts().to_dict() == {
        "Ariel_Sharon": 30, "Hugo_Chavez": 25, "Colin_Powell": 20}
    assert all((faces_dir / p).is_file() for p in manifest["path"])
