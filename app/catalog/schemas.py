"""Catalogue API schemas."""

from marshmallow import Schema, fields, validate


class ProductQuery(Schema):
    category = fields.Integer(
        load_default=None, metadata={"description": "Category id (includes sub-categories)"}
    )
    q = fields.String(load_default=None, validate=validate.Length(max=100))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=48, validate=validate.Range(min=1, max=200))


class ProductSchema(Schema):
    id = fields.Integer()
    material_number = fields.String()
    name = fields.String()
    name_zh = fields.String()
    name_en = fields.String()
    category_id = fields.Integer(allow_none=True)
    sales_unit = fields.String()
    order_multiple = fields.Integer()
    on_shelf = fields.Boolean()
    image_file_id = fields.Integer(allow_none=True)
    description = fields.String(allow_none=True)
    price = fields.Decimal(
        as_string=True,
        allow_none=True,
        metadata={"description": "The caller's own net price per unit (dealers only)"},
    )
    list_price = fields.Decimal(
        as_string=True,
        places=2,
        allow_none=True,
        metadata={"description": "The PR00 list price before K004/K007"},
    )
    material_discount = fields.Decimal(
        as_string=True, places=2, allow_none=True, metadata={"description": "K004: CNY off per unit"}
    )
    customer_discount_percent = fields.Decimal(
        as_string=True, places=2, allow_none=True, metadata={"description": "K007: the dealer's percent off"}
    )
    currency = fields.String(allow_none=True)
    sales_org = fields.String(allow_none=True)
    distr_chan = fields.String(allow_none=True)
    division = fields.String(allow_none=True)


class ProductPageSchema(Schema):
    items = fields.List(fields.Nested(ProductSchema))
    total = fields.Integer()
    page = fields.Integer()
    pages = fields.Integer()
    per_page = fields.Integer()


class CategorySchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    name_zh = fields.String()
    name_en = fields.String()
    parent_id = fields.Integer(allow_none=True)
    level = fields.Integer()
    sort = fields.Integer()
    active = fields.Boolean()
    children = fields.List(fields.Nested(lambda: CategorySchema()))


class CategoryCreateSchema(Schema):
    name = fields.String(metadata={"description": "Name in both languages (or give name_zh / name_en)"})
    name_zh = fields.String()
    name_en = fields.String()
    parent_id = fields.Integer(allow_none=True, load_default=None)
    sort = fields.Integer(load_default=0, validate=validate.Range(min=0, max=100000))


class CategoryUpdateSchema(Schema):
    name = fields.String()
    name_zh = fields.String()
    name_en = fields.String()
    parent_id = fields.Integer(
        allow_none=True, metadata={"description": "Move under this category (null: root)"}
    )
    sort = fields.Integer(validate=validate.Range(min=0, max=100000))
    active = fields.Boolean()
    force = fields.Boolean(
        load_default=False,
        metadata={"description": "Deactivate even with on-shelf products (they hide from dealers)"},
    )


class ProductUpdateSchema(Schema):
    on_shelf = fields.Boolean()
    category_id = fields.Integer()
    name_zh = fields.String(validate=validate.Length(min=1, max=120))
    name_en = fields.String(validate=validate.Length(min=1, max=120))
    description = fields.String(allow_none=True, validate=validate.Length(max=4000))
    image_file_id = fields.Integer(allow_none=True)
    order_multiple = fields.Integer(validate=validate.Range(min=1, max=10000))
