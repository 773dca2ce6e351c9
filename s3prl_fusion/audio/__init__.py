"""Audio: reading files (``loading``), s3prl's SV effect chain (``sox_effects``), the sample rate."""
