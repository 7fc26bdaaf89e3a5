"""`plait perf --config benchmarks/configs/threads4.py`: four threads (Python config file)."""

from plait import Config, ThreadPoolExecutor


def fresh_config() -> Config:
    return Config(executors=[ThreadPoolExecutor(label="threads4", max_threads=4)])
