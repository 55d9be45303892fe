"""Detection and cropping of one photo: policies, margin/square/size, color modes, MTCNN."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers.params import section

from starrec.faces.detect import FaceCrop, crop, faces_in_image, find_faces
from starrec.faces.detectors import Detection, HaarDetector, detect_scaled
from starrec.faces.image import decode_rgb


def haar_params(**overrides):
    """The extract section with the Haar detector and the crop these tests were written for."""
    return section("extract", **{"detector": "haar", "min_face_size": 40, "image_size": 64,
                                 "color_mode": "gray", **overrides})


def read(path: Path) -> np.ndarray:
    return decode_rgb(path.read_bytes())


@pytest.fixture(scope="module")
def two_faces(lfw10: Path) -> np.ndarray:
    """Tony Blair (full size, left; Haar scores him low) beside a smaller George W. Bush
    (right; scored high): the largest and the most confident face differ."""
    left = read(lfw10 / "Tony_Blair" / "Tony_Blair_0010.jpg")
    right = cv2.resize(read(lfw10 / "George_W_Bush" / "George_W_Bush_0007.jpg"), (200, 200),
                       interpolation=cv2.INTER_AREA)
    canvas = np.full((250, 450, 3), 255, np.uint8)
    canvas[:, :250] = left
    canvas[25:225, 250:] = right
    return canvas


def centre_x(face: FaceCrop) -> float:
    return face.box[0] + face.box[2] / 2


def test_policies_pick_different_faces(two_faces: np.ndarray) -> None:
    every = faces_in_image(two_faces, haar_params(policy="all"))
    assert len(every) == 2
    big, small = every  # largest first
    assert big.face_size > small.face_size and centre_x(big) < 250 < centre_x(small)
    assert small.score > big.score

    (largest,) = faces_in_image(two_faces, haar_params(policy="largest"))
    (confident,) = faces_in_image(two_faces, haar_params(policy="most_confident"))
    assert largest.box == big.box
    assert confident.box == small.box


def test_min_face_size_keeps_only_big_enough_faces(lfw10: Path) -> None:
    """The same photo at 1/3 scale: its ~38 px face passes min_face_size 30, not 60."""
    rgb = read(lfw10 / "Jacques_Chirac" / "Jacques_Chirac_0001.jpg")
    small = cv2.resize(rgb, (84, 84), interpolation=cv2.INTER_AREA)
    haar = HaarDetector(haar_params().haar)
    (face,) = find_faces(small, haar_params(min_face_size=30), haar).crops
    assert 30 <= face.face_size < 60
    assert find_faces(small, haar_params(min_face_size=60), haar).crops == []
    assert all(f.face_size >= 60 for f in faces_in_image(rgb, haar_params(min_face_size=60)))


@pytest.mark.parametrize(("color_mode", "shape"), [("gray", (48, 48)), ("rgb", (48, 48, 3))])
def test_crop_is_square_resized_and_in_color_mode(lfw10: Path, color_mode: str, shape) -> None:
    rgb = read(lfw10 / "Colin_Powell" / "Colin_Powell_0001.jpg")
    (face,) = faces_in_image(rgb, haar_params(image_size=48, color_mode=color_mode))
    assert face.image.shape == shape and face.image.dtype == np.uint8
    assert face.blur_var > 10  # a sharp news photo, not a flat patch
    x, y, w, h = face.box
    assert 50 < x + w / 2 < 200 and 50 < y + h / 2 < 200  # LFW photos are centred on the face


def test_crop_adds_margin_around_the_box() -> None:
    """A white square box on black: with margin 0.25 it fills the middle 2/3 of the crop."""
    img = np.zeros((300, 300, 3), np.uint8)
    img[100:160, 100:160] = 255
    out = crop(img, (100, 100, 60, 60), haar_params(margin=0.25, image_size=90, color_mode="gray"))
    assert out.shape == (90, 90)
    assert out[20:70, 20:70].min() > 200 and out[:10].max() < 50 and out[:, -10:].max() < 50


def test_crop_at_the_border_stays_inside_or_pads() -> None:
    img = np.zeros((100, 200, 3), np.uint8)
    img[:, :100] = 255  # left half white
    cfg = haar_params(margin=0.5, image_size=32, color_mode="gray")
    shifted = crop(img, (0, 0, 40, 40), cfg)  # side 80: shifted to the top-left corner
    assert shifted.min() == 255
    padded = crop(img, (60, 10, 80, 80), cfg)  # side 160 > height 100: edge rows repeated
    assert padded.shape == (32, 32) and padded[:, :5].min() == 255 and padded[:, -5:].max() == 0


def test_large_photo_is_downscaled_for_detection_and_boxes_map_back(lfw10: Path) -> None:
    rgb = read(lfw10 / "Hugo_Chavez" / "Hugo_Chavez_0001.jpg")
    big = cv2.resize(rgb, (1000, 1000), interpolation=cv2.INTER_CUBIC)
    det = HaarDetector(haar_params().haar)
    (small_box,) = detect_scaled(det, rgb, 640, 40)
    (big_box,) = detect_scaled(det, big, 250, 40)  # detected at 250 px, mapped to 1000 px
    assert isinstance(big_box, Detection)
    assert np.allclose(np.array(big_box.box), 4 * np.array(small_box.box), atol=8)


def test_mtcnn_finds_the_faces(lfw10: Path, two_faces: np.ndarray) -> None:
    cfg = section("extract", detector="mtcnn", policy="all", image_size=64, color_mode="gray")
    faces = faces_in_image(two_faces, cfg)
    assert len(faces) == 2 and all(0.9 <= f.score <= 1.0 for f in faces)
    assert centre_x(faces[0]) < 250 < centre_x(faces[1])  # largest (Blair, left) first
    (face,) = faces_in_image(read(lfw10 / "Vladimir_Putin" / "Vladimir_Putin_0001.jpg"),
                             cfg.model_copy(update={"policy": "largest"}))
    assert face.image.shape == (64, 64) and 60 < centre_x(face) < 190
