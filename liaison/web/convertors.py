"""Path parameters: an `{name:id}` is a stored row id, a whole number from 0 to 2^31-1
(the store's INTEGER columns). Anything else does not match the route (404), instead of
failing deep in the database driver."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

# 0 to 2147483647 written without leading zeros: up to 9 digits, or 10 digits no larger.
_ROW_ID = (
    "0|[1-9][0-9]{0,8}|1[0-9]{9}|20[0-9]{8}|21[0-3][0-9]{7}|214[0-6][0-9]{6}"
    "|2147[0-3][0-9]{5}|21474[0-7][0-9]{4}|214748[0-2][0-9]{3}|2147483[0-5][0-9]{2}"
    "|21474836[0-3][0-9]|214748364[0-7]"
)


class IdConvertor(Convertor[int]):
    regex = f"(?:{_ROW_ID})"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())
