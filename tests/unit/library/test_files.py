"""What `starrec scan` reads: photos and videos in folders (recursively), files named
explicitly; other files in folders are left alone."""

from __future__ import annotations

from starrec.library.scan import library_files


def test_photos_and_videos_found(tmp_path):
    (tmp_path / "lib" / "sub").mkdir(parents=True)
    for name in ("lib/a.jpg", "lib/sub/c.PNG", "lib/clip.mp4", "lib/notes.txt", "x.mov",
                 "odd.bin"):
        (tmp_path / name).write_bytes(b"x")
    files, videos = library_files([tmp_path / "lib", tmp_path / "x.mov", tmp_path / "odd.bin",
                                   tmp_path / "lib" / "a.jpg"])
    assert files == sorted(str(tmp_path / p) for p in ("lib/a.jpg", "lib/sub/c.PNG", "odd.bin"))
    assert videos == sorted(str(tmp_path / p) for p in ("lib/clip.mp4", "x.mov"))
