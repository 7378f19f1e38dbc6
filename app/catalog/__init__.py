"""Catalogue: categories, products, sales areas and price lists (ERP data + staff upkeep)."""
