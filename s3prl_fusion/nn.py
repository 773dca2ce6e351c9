"""The fusion interfaces through s3prl's newer API (``s3prl.nn``), the path ESPnet's s3prl
frontend uses; see ``s3prl_fusion.s3prl_adapter.nn``.

    from s3prl_fusion.nn import FusedS3PRLUpstream, InterfaceFeaturizer
"""
from s3prl_fusion.s3prl_adapter.nn import FusedS3PRLUpstream, InterfaceFeaturizer, LayerList

__all__ = ["FusedS3PRLUpstream", "InterfaceFeaturizer", "LayerList"]
