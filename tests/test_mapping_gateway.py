"""Mapping changes made for the gateway."""

from __future__ import annotations

from natsgate import mapping


def test_reply_headers_drop_fields_named_in_connection() -> None:
    lines = mapping.reply_headers(
        200,
        [("Connection", "X-Hop, close"), ("X-Hop", "1"), ("Keep-Alive", "t=5"), ("X-Keep", "2")],
    )

    assert lines == [("Http-Status", "200"), ("X-Keep", "2")]
