"""s3prl-fusion: fuse several frozen speech foundation models and all their layers through
one trainable interface, inside s3prl's own runner.

Importing the package installs the post-import hooks that register the plugin with s3prl.
"""
from s3prl_fusion.s3prl_adapter.patches.hooks import install as _install_hooks

_install_hooks()

__version__ = "0.1.0"
