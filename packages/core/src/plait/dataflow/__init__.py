"""The dataflow kernel: task records, dependency resolution, launch, retries, memoization."""
