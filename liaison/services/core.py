"""The running service without its transports: store, bus, and the domain services."""

from __future__ import annotations

import secrets
from typing import Any

from liaison.bus.base import bus_from_url
from liaison.clock import Clock, SystemClock
from liaison.config import Settings
from liaison.services.accounts import AccountService
from liaison.services.chat import ChatService
from liaison.services.hub import Hub
from liaison.services.load import LoadService
from liaison.services.presence import PresenceService
from liaison.services.retention import Purger
from liaison.services.rings import RingService
from liaison.store.db import create_engine, migrate, session_factory


class Core:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.engine = create_engine(settings.database_url, settings.database_schema)
        self.db = session_factory(self.engine)
        self.node_id = secrets.token_hex(4)
        self.hub = Hub(bus_from_url(settings.bus_url), self.node_id)
        self.accounts = AccountService(settings, self.clock, self.db, self.hub)
        self.presence = PresenceService(settings, self.clock, self.db, self.hub)
        self.chat = ChatService(settings, self.clock, self.db, self.hub)
        self.rings = RingService(settings, self.clock, self.db, self.hub, self.presence, self.chat)
        self.load = LoadService(settings, self.clock, self.db, self.hub, self.rings)
        self.purger = Purger(self.db, settings, self.clock)
        self.hub.on("close", self._on_close)

    @property
    def secret(self) -> bytes:
        """The pseudonym key (raises ConfigError when missing outside demo mode)."""
        return self.settings.secret_key()

    async def start(self) -> None:
        await migrate(self.engine, self.settings.database_schema)
        await self.hub.start()
        await self.presence.start()
        await self.rings.start()
        await self.load.start()
        await self.purger.start()

    async def stop(self) -> None:
        await self.purger.stop()
        await self.load.stop()
        await self.rings.stop()
        await self.presence.stop()
        await self.hub.bus.stop()
        await self.engine.dispose()

    async def _on_close(self, message: dict[str, Any]) -> None:
        session = message.get("s")
        for conn in self.hub.connections_of(int(message["p"])):
            if session is None or conn.session == session:
                conn.close(int(message["code"]), str(message.get("r", "")))
