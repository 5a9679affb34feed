"""Alembic environment for the registry database (run from sync.registry.db.upgrade)."""

from alembic import context

import sync.registry.models  # noqa: F401
from sync.registry.models_common import RegistryModel

config = context.config


def run_migrations_online() -> None:
    engine = config.attributes["engine"]
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=RegistryModel.metadata,
                          render_as_batch=connection.dialect.name == "sqlite")  # fmt: skip
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
