"""`starrec cast`: who is on screen in a video, and when.

Faces are detected and named every few frames, carried between detections by optical flow,
linked into tracks (one person within one shot), named once per track by a quality-weighted
vote, and the unknown tracks of a video grouped into `unknown-1`, `unknown-2`, ...
"""
