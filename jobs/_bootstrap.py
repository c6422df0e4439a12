"""Lets ``python jobs/<stage>.py`` and ``spark-submit jobs/<stage>.py`` run the library of *this* checkout:
first on the driver's path, and on ``PYTHONPATH`` so the Spark Python workers the JVM starts import the
same code (a venv's editable install may point at another clone)."""

import os
import sys
from pathlib import Path

root = str(Path(__file__).resolve().parent.parent)
if root not in sys.path:
    sys.path.insert(0, root)
if root not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
