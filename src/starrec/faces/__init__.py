"""Face extraction: read any photo, detect faces, cut square crops (the `extract_faces` stage).

Modules: `image` (decode any mode to RGB), `detectors` (Haar / MTCNN behind one interface),
`detect` (faces of one photo: `faces_in_image`, also used at prediction time), `extract`
(the stage: parallel over photos, manifest, PNGs), `preview` (contact sheet).
"""
