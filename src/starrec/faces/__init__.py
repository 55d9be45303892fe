"""Face extraction: read any photo, detect faces, cut square crops, make model input.

Modules: `image` (decode any mode to RGB), `detectors` (Haar / MTCNN / YuNet with 5 landmarks,
behind one interface),
`detect` (faces of one photo: `faces_in_image`, and `to_input`: a crop as model input; the
one face-input path of training, prediction, serving, enrolment and calibration), `extract`
(many photos in parallel: PNGs and manifest rows), `preview` (contact sheet).
Pretrained models: `artifacts` (model files verified by sha256), `align` (landmarks onto the
112x112 template), `embed` (sface / sface_keras / dlib / own), `sface_keras` (SFace rebuilt
in Keras from its ONNX file), `degrade` (degradations of aligned crops), `clean` (flag faces
whose embedding disagrees with their class).
"""
