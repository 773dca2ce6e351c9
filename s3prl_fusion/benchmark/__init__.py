"""What ``s3prl-fusion bench`` measures, each figure against its alternative in the same run (the command itself: ``commands/bench.py``)."""
