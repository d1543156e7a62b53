"""The session cart: product id -> quantity. Prices are never stored here; the
server prices everything at checkout from the catalog."""

from orders.services import MAX_LINES, MAX_QUANTITY

SESSION_KEY = "cart"


class Cart:
    def __init__(self, session):
        self.session = session
        raw = session.get(SESSION_KEY) or {}
        self.lines = {str(k): int(v) for k, v in raw.items() if str(v).isdigit() and int(v) > 0}

    @property
    def count(self):
        return sum(self.lines.values())

    def quantity(self, product_id):
        return self.lines.get(str(product_id), 0)

    def set(self, product_id, quantity):
        key = str(product_id)
        if quantity <= 0:
            self.lines.pop(key, None)
        else:
            self.lines[key] = min(quantity, MAX_QUANTITY)
        self.lines = dict(list(self.lines.items())[:MAX_LINES])
        self._save()

    def remove(self, product_id):
        self.lines.pop(str(product_id), None)
        self._save()

    def clear(self):
        self.lines = {}
        self._save()

    def as_order_lines(self):
        return list(self.lines.items())

    def _save(self):
        self.session[SESSION_KEY] = self.lines
        self.session.modified = True
