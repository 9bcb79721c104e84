"""At most one fetch of a kind at a time, and one more if it was asked for again meanwhile.

Exclusive workers cancel the running fetch, which under a steady stream of events means it never
finishes. A refresher instead lets the running fetch complete and runs once more afterwards, so
a burst of a thousand requests costs two fetches and the panel always ends up current.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable


class Refresher:
    def __init__(self, fetch: Callable[[], Awaitable[None]]) -> None:
        self._fetch = fetch
        self.running = False
        self._again = False

    async def request(self) -> None:
        """Runs the fetch now, or marks it to run again once the running one finishes."""
        if self.running:
            self._again = True
            return
        self.running = True
        try:
            while True:
                self._again = False
                await self._fetch()
                if not self._again:
                    break
        finally:
            self.running = False
