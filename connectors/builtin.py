"""Connector operations that need nothing outside this platform."""

from marshmallow import Schema, fields

from connectors.registry import CallContext, registry


class EchoParams(Schema):
    value = fields.Raw(load_default=None)


@registry.register("platform.echo", schema=EchoParams,
                   description="Return the given value (for testing models)")
def echo(params: dict, ctx: CallContext) -> dict:
    return {"value": params.get("value")}
