"""Lets ``python jobs/<stage>.py`` and ``spark-submit jobs/<stage>.py`` run the library of *this* checkout:
first on the driver's path, and on ``PYTHONPATH`` so the Spark Python workers the JVM starts import the
same code (a venv's editable install may point at another clone)."""

import os
import sys
from pathlib import Path

root = str(Path(__file__).resolve().parent.parent)
# First, even when already on the path: spark-submit puts --py-files (a wheel) ahead of PYTHONPATH, and
# the driver must run this checkout (its conf/, and relative manifest paths resolved against it).
if root in sys.path:
    sys.path.remove(root)
sys.path.insert(0, root)
if root not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
