"""Path parameters: an `{name:id}` is a stored row id, a whole number that fits the store's
64-bit integers. Anything longer does not match the route (404), instead of failing deep
in the database driver."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor


class IdConvertor(Convertor[int]):
    # At most 18 digits: always below 2^63.
    regex = "[0-9]{1,18}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())
