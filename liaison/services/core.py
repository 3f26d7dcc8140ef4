"""The running service without its transports: store, bus, and the domain services; and
the store alone, for one-off commands."""

from __future__ import annotations

import asyncio
import secrets
from functools import cached_property
from typing import Any

from liaison.bus.base import bus_from_url
from liaison.clock import Clock, SystemClock
from liaison.config import Settings
from liaison.protocol.answers import Readiness
from liaison.services.accounts import AccountService
from liaison.services.admin import AdminService
from liaison.services.audit import AuditLog
from liaison.services.callbacks import CallbackService
from liaison.services.chat import ChatService
from liaison.services.consultations import ConsultationService
from liaison.services.directory import DirectoryService
from liaison.services.health import readiness
from liaison.services.hub import Hub
from liaison.services.load import LoadService
from liaison.services.login_guard import LoginGuard
from liaison.services.named_contacts import NamedContactService
from liaison.services.presence import PresenceService
from liaison.services.profile import ProfileService
from liaison.services.retention import Purger
from liaison.services.rings import RingService
from liaison.services.scheduler import Scheduler
from liaison.store.db import create_engine, migrate, session_factory


class StoreCore:
    """The store, opened (and migrated): all a one-off command needs (`liaison import |
    rings | purge | create-account`), and what a Core is built on.

    Nothing here receives from the bus, routes, sweeps presence, publishes load figures or
    purges on a timer, and nothing writes at opening or closing: a one-off run beside live
    nodes changes only what it is asked to. (A whole Core in a one-off heard none of the
    live connections, so it saw every ring member offline, withdrew their offers and
    saved its router state over the live nodes'.) The hub is never started: a one-off may
    publish what it changed, it hears nothing."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.engine = create_engine(settings.database_url, settings.database_schema)
        self.db = session_factory(self.engine)
        self.node_id = secrets.token_hex(4)
        self.hub = Hub(bus_from_url(settings.bus_url), self.node_id)

    @cached_property
    def accounts(self) -> AccountService:
        # Built when first used: it hashes a dummy password, which only logins need.
        return AccountService(self.settings, self.clock, self.db, self.hub)

    async def open(self) -> None:
        """Brings the schema up to date (migrate() serialises nodes starting together)."""
        await migrate(self.engine, self.settings.database_schema)

    async def close(self) -> None:
        if "accounts" in vars(self):
            self.accounts.close()
        # Stopping a network bus first sends what is queued (a one-off's publications).
        await self.hub.bus.stop()
        await self.engine.dispose()


class Core(StoreCore):
    """A node: the store, the bus, and every service over them, running."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        super().__init__(settings, clock)
        self.scheduler = Scheduler(self.clock)
        self.audit = AuditLog(settings, self.clock, self.db)
        self.logins = LoginGuard(settings, self.clock, self.db, self.accounts, self.audit)
        self.presence = PresenceService(settings, self.clock, self.db, self.hub, self.scheduler)
        self.chat = ChatService(settings, self.clock, self.engine, self.db, self.hub)
        # The ring services over the one router: routing, then what happens around it.
        self.rings = RingService(
            settings, self.clock, self.db, self.hub, self.scheduler, self.presence
        )
        self.consultations = ConsultationService(
            settings,
            self.clock,
            self.db,
            self.hub,
            self.scheduler,
            self.presence,
            self.chat,
            self.rings,
        )
        self.callbacks = CallbackService(settings, self.clock, self.db, self.hub, self.rings)
        self.named_contacts = NamedContactService(self.db, self.presence, self.rings)
        self.load = LoadService(
            settings, self.clock, self.db, self.hub, self.scheduler, self.rings, self.callbacks
        )
        # The directory as people read it, their own profile, and its administration.
        self.directory = DirectoryService(settings, self.db, self.presence)
        self.profile = ProfileService(settings, self.db, self.directory)
        self.admin = AdminService(settings, self.db, self.directory_changed)
        self.purger = Purger(self.db, settings, self.clock, self.scheduler)
        self.hub.on("close", self._on_close)
        self.hub.on("directory", self._on_directory)
        self.hub.gap_listeners.append(self._catch_up)
        # Set once start() has finished: the service answers from then on.
        self.ready = asyncio.Event()
        # This node's WebSocket sessions by connection key; each event is set once the
        # session has finished with its connection, cleanup included.
        self.sessions: dict[str, asyncio.Event] = {}

    @property
    def secret(self) -> bytes:
        """The pseudonym key (raises ConfigError when missing outside demo mode)."""
        return self.settings.secret_key()

    async def start(self) -> None:
        await self.open()
        await self.hub.start()
        await self.chat.start()
        await self.presence.start()
        await self.rings.start()
        await self.consultations.start()
        self.purger.start()
        await self.scheduler.start()
        self.ready.set()

    async def stop(self) -> None:
        await self.scheduler.stop()
        await self.presence.save_last_seen()
        await self.chat.stop()
        await self.hub.bus.stop()
        await self.close()

    async def directory_changed(self) -> None:
        """After people, roles, units or ring members changed in the store: what everyone
        may see and receive follows at once (new people get a view, supervisors their
        rings' callbacks and figures, load-view watchers their new set of rings), here
        and, told on the bus, on every other node."""
        await self._reload_directory()
        await self.hub.publish({"k": "directory", "n": self.node_id})

    async def _on_directory(self, message: dict[str, Any]) -> None:
        if message.get("n") != self.node_id:
            await self._reload_directory()

    async def _reload_directory(self) -> None:
        await self.presence.reload_people()
        await self.rings.reload_rings()
        await self.load.rights_changed()

    async def readiness(self) -> Readiness:
        """What /ready reports: each dependency up or down, checked now."""
        return await readiness(self.db, self.hub.bus)

    async def settle(self) -> None:
        """Returns once the bus is empty, nothing is due at the clock's current time, and
        nothing that was set off is still running (tests call it after moving the clock)."""
        await self.scheduler.settle(self.hub.bus.idle)

    async def _catch_up(self) -> None:
        """After the bus lost messages: what this node caches, from the store again."""
        await self.presence.catch_up()
        await self.consultations.idle.start()
        # Another node's routing change whose notice was lost: its rows are read.
        await self.rings.refresh()

    async def _on_close(self, message: dict[str, Any]) -> None:
        session = message.get("s")
        for conn in self.hub.connections_of(int(message["p"])):
            if session is None or conn.session == session:
                conn.close(int(message["code"]), str(message.get("r", "")))
