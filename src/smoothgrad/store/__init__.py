"""On-disk formats and paths: what the compute stages write and the outputs read."""
