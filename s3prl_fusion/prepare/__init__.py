"""Data preparation the s3prl wheel lacks: one module per data set, each a `s3prl-fusion prepare` command."""
