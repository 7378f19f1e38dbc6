"""Promotions: the pricing engine for dealer orders (满减, 满赠, 套餐, 特价, 阶梯价)."""
