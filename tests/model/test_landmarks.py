"""Detection with landmarks (YuNet, MTCNN) and 5-point alignment, on real photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers.face_photos import largest_face, photo_files, photos

from starrec.config import Config
from starrec.faces.align import TEMPLATE_112, align_face
from starrec.faces.detectors import (
    Detection,
    HaarDetector,
    MtcnnDetector,
    YunetDetector,
    detect_scaled,
    make_detector,
)
from starrec.faces.image import decode_rgb


def check_geometry(face: Detection) -> None:
    """Landmarks inside the box; eyes above the nose above the mouth; left/right not swapped."""
    pts = np.asarray(face.landmarks)
    x, y, w, h = face.box
    assert ((pts >= (x, y)) & (pts <= (x + w, y + h))).all(), (face.box, pts)
    left_eye, right_eye, nose, mouth_left, mouth_right = pts
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
    assert left_eye[0] < right_eye[0] and mouth_left[0] < mouth_right[0]


def test_yunet_landmarks_are_where_the_face_is(yunet: YunetDetector, lfw: Path, cfg: Config) -> None:
    for _, rgb in photos(lfw, per_person=2, people=15):
        check_geometry(largest_face(yunet, rgb, cfg))


def test_downscaled_detection_maps_landmarks_back(yunet: YunetDetector, lfw: Path) -> None:
    """A photo 3x larger than detect_max_side: box and landmarks come back in its pixels."""
    rgb = decode_rgb(lfw / "Colin_Powell" / "Colin_Powell_0001.jpg")
    big = cv2.resize(rgb, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)  # 750x750
    small = max(detect_scaled(yunet, rgb, 250, 1), key=lambda d: d.box[2])
    large = max(detect_scaled(yunet, big, 250, 1), key=lambda d: d.box[2])
    eyes = np.linalg.norm(np.subtract(small.landmarks[0], small.landmarks[1]))
    assert np.abs(np.asarray(large.landmarks) / 3 - np.asarray(small.landmarks)).max() < 0.05 * eyes
    assert np.abs(np.asarray(large.box) / 3 - np.asarray(small.box)).max() <= 1


def test_mtcnn_keypoints_come_in_the_template_order(yunet: YunetDetector, lfw: Path,
                                                    cfg: Config) -> None:
    mtcnn = MtcnnDetector(cfg.extract.mtcnn)
    for _, rgb in photos(lfw, per_person=1, people=4):
        theirs, ours = largest_face(mtcnn, rgb, cfg), largest_face(yunet, rgb, cfg)
        check_geometry(theirs)
        # each MTCNN point is nearest to YuNet's point of the same index
        dist = np.linalg.norm(np.asarray(theirs.landmarks)[:, None] - np.asarray(ours.landmarks)[None],
                              axis=2)
        assert (dist.argmin(axis=1) == np.arange(5)).all(), dist.round(1)


def test_haar_stays_selectable_without_landmarks(cfg: Config, lfw: Path) -> None:
    haar = make_detector(cfg.extract.model_copy(update={"detector": "haar"}))
    assert isinstance(haar, HaarDetector)
    (face,) = haar.detect(decode_rgb(lfw / "Colin_Powell" / "Colin_Powell_0001.jpg"), 40)
    assert face.landmarks is None


def test_yunet_is_built_with_or_without_the_faces_models_section(cfg: Config) -> None:
    """Without `faces.models` (a model's saved extract params) the package copy is used."""
    extract = cfg.extract.model_copy(update={"detector": "yunet"})
    assert isinstance(make_detector(extract, cfg.faces.models), YunetDetector)
    assert isinstance(make_detector(extract), YunetDetector)


def test_align_maps_landmarks_onto_the_template() -> None:
    """A face whose landmarks sit on the template at twice the scale comes out as the
    200% crop shrunk to 112 px: the warp is exactly the similarity that fits."""
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.integers(0, 256, (300, 300, 3), dtype=np.uint8), (9, 9), 3)
    offset = np.array([40.0, 30.0])
    out = align_face(image, TEMPLATE_112 * 2 + offset)
    want = cv2.resize(image[30:254, 40:264], (112, 112), interpolation=cv2.INTER_LINEAR)
    assert out.shape == (112, 112, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - want.astype(int))[4:-4, 4:-4].mean() < 3
    assert align_face(image, TEMPLATE_112 * 2 + offset, size=56).shape == (56, 56, 3)


def test_aligned_crop_embeds_like_opencv_align_crop(yunet: YunetDetector, sface, five: Path) -> None:
    """Our alignment of every face of five-celebrity-faces gives the SFace embedding of
    cv2.FaceRecognizerSF.alignCrop's crop (the alignment SFace was published with)."""
    cosines = []
    for file in photo_files(five):
        rgb = decode_rgb(file)
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        for face in yunet.detect(rgb, 1):
            row = np.array([[*face.box, *np.ravel(face.landmarks), face.score]], np.float32)
            theirs = sface.embed(sface.model.alignCrop(bgr, row)[None])
            ours = sface.embed(sface.prepare(rgb, face)[None])
            cosines.append(float(theirs[0] @ ours[0]))
    assert len(cosines) >= 118 and min(cosines) >= 0.99


def test_yunet_finds_a_face_in_nearly_every_web_photo(yunet: YunetDetector, five: Path,
                                                      cfg: Config) -> None:
    files = photo_files(five)
    found = [bool(detect_scaled(yunet, decode_rgb(f), cfg.extract.detect_max_side, 1)) for f in files]
    assert len(files) == 118 and np.mean(found) >= 0.98
