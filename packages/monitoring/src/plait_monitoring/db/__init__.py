"""The monitoring database: schema, engines, migrations and the batch writer's store."""
