"""Recorded event streams that `trt-tui screenshots` replays (package data; see assets/streams/README.md)."""
