"""Layers of a grid object detector (YOLO): box utilities, the prediction head, the grid decoder and
non-maximum suppression."""
