"""Returns and exchanges: the store's policy applied to each item, labels, the return's life from
request to refund or exchange, and the customer's portal (`/returns/`).

The records (ReturnRequest, ReturnItem, ReturnPolicy, ExchangeVariant) belong to `orders`, next to the
orders they return; this app is the workflow on top of orders, notifications and the commerce provider.
"""
