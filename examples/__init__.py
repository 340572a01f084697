"""Runnable examples of the README (``python -m verify conform examples.my_sam:MySAM --as sam``)."""
