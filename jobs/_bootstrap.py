"""Lets ``spark-submit jobs/<stage>.py`` import the library from a checkout without installing it."""

import sys
from pathlib import Path

root = str(Path(__file__).resolve().parent.parent)
if root not in sys.path:
    sys.path.insert(0, root)
