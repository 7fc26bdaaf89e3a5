"""Files and the staging contract (Parsl: ``parsl.data_provider``)."""
