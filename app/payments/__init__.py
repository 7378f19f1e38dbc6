"""Dealer prepayment (预付款): a credit-blocked order's shortfall paid through the bank connector."""
