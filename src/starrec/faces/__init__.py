"""Face extraction: read any photo, detect faces, cut square crops (the `extract_faces` stage).

Modules: `image` (decode any mode to RGB), `detectors` (Haar / MTCNN behind one interface),
`detect` (faces of one photo: `faces_in_image`, also used at prediction time), `extract`
(the stage: parallel over photos, manifest, PNGs), `preview` (contact sheet).
Pretrained models: `artifacts` (model files verified by sha256), `yunet` (detector with 5
landmarks), `align` (landmarks onto the 112x112 template), `embed` (sface / dlib / own),
`clean` (flag faces whose embedding disagrees with their class).
"""
