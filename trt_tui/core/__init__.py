"""The pipeline, with no UI: nothing under trt_tui.core imports textual or rich."""
