"""SUPERB's leaderboard submission: the ``predict.zip`` s3prl's ``submit.py`` packs, built from the
experiment folders ``recipes/superb.sh`` lays out (``layout``: the facts; ``formats``: what the
leaderboard reads in each file; ``build``: finding, checking and zipping)."""
