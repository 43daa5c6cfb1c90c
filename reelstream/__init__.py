"""reelstream: asynchronous text-to-video serving on Kafka, diffusers and S3."""

__version__ = "0.1.0"
