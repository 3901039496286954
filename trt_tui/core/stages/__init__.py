"""The pipeline's stages, one module each, in the order they run:

env → model → benchmark of the PyTorch rows → export → quantize → build → benchmark of the others.
Each module has a ``run(ctx, ...)`` that takes the shared ``context.RunContext`` (the run's services) and
the artifacts it reads, and returns what it makes (a small frozen dataclass beside the stage, or None);
``pipeline.Pipeline`` sequences them, passes one's output to the next and keeps them in the context.
"""
