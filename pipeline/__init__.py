"""Stage entry points of the rwgan pipeline (``python -m pipeline.<stage>``); see pipeline/dag.py."""
import os

# Idle OpenMP threads sleep instead of spinning: with several jobs (or other programs) on
# few cores, spinning threads made torch 5-7x slower here. Set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
